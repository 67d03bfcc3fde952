"""Jobs: every long operation of the engine as a plain object.

A job is a frozen dataclass of plain data (a DatasetSpec, configs, paths, model ids) and is
called as `job(reporter) -> result`: events go to `reporter.emit`, it stops when
`reporter.cancel_requested()`, and its result is plain data (dataclasses, numpy arrays,
paths), so it can cross a process boundary. The window runs jobs in the engine process
(`jobs.host.EngineHost`); the CLI runs the same ones here (`jobs.host.run_here`). A trained or
loaded model stays where the job ran, kept by id in `jobs.held`.
"""
