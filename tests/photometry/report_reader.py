"""An AAVSO Extended Format reader for the tests, written from the format's published text.

It knows only the format (``#KEY=value`` parameter lines, then one line of 15 delimited fields per
observation, ``na`` for a missing value) and nothing of the writer's code.
"""
from __future__ import annotations

REQUIRED_PARAMETERS = ["TYPE", "OBSCODE", "SOFTWARE", "DELIM", "DATE", "OBSTYPE"]
FIELD_NAMES = ["STARID", "DATE", "MAGNITUDE", "MAGERR", "FILTER", "TRANS", "MTYPE", "CNAME", "CMAG", "KNAME",
               "KMAG", "AMASS", "GROUP", "CHART", "NOTES"]


def parse_report(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Parameters and observations of an Extended Format file; fails on anything the format forbids."""
    parameters: dict[str, str] = {}
    observations = []
    lines = text.split("\n")
    assert lines[-1] == "", "the file ends with a line break"
    for line in lines[:-1]:
        assert line.strip(), "blank lines must be commented out"
        assert line.isascii() and "\r" not in line
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            assert not observations, "parameters come before the data"
            parameters[key] = value
            continue
        fields = line.split(parameters["DELIM"])
        assert len(fields) == 15, line
        observations.append(dict(zip(FIELD_NAMES, fields, strict=True)))
    assert set(REQUIRED_PARAMETERS) <= set(parameters), "the six required parameters are present"
    return parameters, observations
