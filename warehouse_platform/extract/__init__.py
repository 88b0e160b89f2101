"""The source/app/* assets and the stage assets that extract them, and the SourceDatabase resource. Imports stage/ and below; imported by quality/, automation/, components/ and environment.py."""
