"""A Python client for the Datalab API, for scripts holding an API token (needs only ``requests``).

    from datalab.client import Datalab
    dl = Datalab("http://127.0.0.1:8000", token)
    frames = dl.archive.search(target="M51", filter="rp", limit=3)
    session = dl.sessions.create("M51 in rp", frames)
    median = session.run("Median", input_files=frames, wait=True)
    median.outputs[0].download(".")

It imports nothing of the service itself (no Django), so it installs and runs anywhere.
The command line over it is ``datalab`` (or ``python -m datalab.client``).
"""
from datalab.client.api import Datalab
from datalab.client.errors import DatalabError, OperationFailed, ServiceUnreachable, WaitTimeout
from datalab.client.operations import Operation
from datalab.client.records import Frame, OperationSpec, Output
from datalab.client.sessions import Session

__all__ = [
    "Datalab", "DatalabError", "Frame", "Operation", "OperationFailed", "OperationSpec", "Output",
    "ServiceUnreachable", "Session", "WaitTimeout",
]
