"""Jobs, the daily schedule, the landing sensor and their wiring (definitions.py). Imports the domain packages (extract/, stage/, warehouse/, quality/); imported only by components/."""
