"""The S3 stage (S3 or any S3-compatible store), in a module of its own: dagster_aws and boto3
cost a process about 50 MB and half a second to import, and only a deployment whose stage URL is
s3://... uses them. environment.build_stage imports this module only then, so a local run, the
benchmarks and the code location on a folder stage never load them."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import dagster as dg
from dagster_aws.s3 import S3Resource

from warehouse_platform.stage.storage import Stage, StagedObjectMissing, StageObject


class S3Stage(Stage):
    """A bucket and prefix on S3 or any S3-compatible store (endpoint set on the S3 resource)."""

    s3: dg.ResourceDependency[S3Resource]
    bucket: str
    prefix: str = ""


    def _object_key(self, key: str) -> str:
        return f"{self.prefix.strip('/')}/{key}" if self.prefix.strip("/") else key

    def url_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def key_for(self, url: str) -> str:
        root = self.url_for("")
        if not url.startswith(root):
            raise ValueError(f"{url} is not in the stage {root}")
        return url[len(root) :]

    def put_file(self, local_path: Path, key: str) -> None:
        self.s3.get_client().upload_file(str(local_path), self.bucket, self._object_key(key))
        local_path.unlink()

    def write_text(self, key: str, text: str) -> None:
        self.s3.get_client().put_object(Bucket=self.bucket, Key=self._object_key(key), Body=text.encode("utf-8"))

    def read_text(self, key: str) -> str:
        body = self.s3.get_client().get_object(Bucket=self.bucket, Key=self._object_key(key))["Body"]
        return body.read().decode("utf-8")

    @contextmanager
    def open_binary(self, key: str) -> Iterator[BinaryIO]:
        client = self.s3.get_client()
        try:
            body = client.get_object(Bucket=self.bucket, Key=self._object_key(key))["Body"]
        except client.exceptions.NoSuchKey:
            raise StagedObjectMissing(key) from None
        try:
            yield body  # a streaming body: read in chunks, never whole into memory
        finally:
            body.close()

    def list_objects(self, prefix: str, *, versions: bool = False) -> list[StageObject]:
        paginator = self.s3.get_client().get_paginator("list_objects_v2")
        full_prefix = self._object_key(prefix)
        strip = len(self._object_key(""))
        objects = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            for obj in page.get("Contents", []):
                objects.append(
                    StageObject(
                        key=obj["Key"][strip:],
                        size=obj["Size"],
                        last_modified=obj["LastModified"],
                        etag=obj["ETag"].strip('"'),
                    )
                )
        return sorted(objects, key=lambda o: o.key)

    def delete(self, keys: list[str]) -> None:
        client = self.s3.get_client()
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            chunk = keys[start : start + 1000]
            client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": self._object_key(k)} for k in chunk], "Quiet": True}
            )
