"""The operation framework: everything an operation needs besides its science.

An operation module holds a description, its inputs and one science method; the shape it derives
from (below) fetches its inputs with progress, opens the frames (aligned or not), checks that the
work fits in memory, builds output headers with provenance, notes crops and pointing problems, and
writes the products. A change to any of those is made here once, for every operation.

Shapes:
- ``StackOperation``: combines N frames into one image, band by band (Median, Combine, Stacking).
- ``FrameByFrameOperation``: one output image per input frame (Normalization, Subtraction).
- ``CompositeOperation``: several channels into one colour picture (Color Image).
- ``TableOperation``: reads frames and their ``CAT`` tables and returns tables (photometry).
"""
from data_operations.framework.composite import CompositeOperation
from data_operations.framework.per_frame import FrameByFrameOperation, FrameProduct
from data_operations.framework.stack import ALIGN_INPUT, Alignment, StackOperation
from data_operations.framework.tables import (
    CatalogFrame,
    FramePlanes,
    TableDownload,
    TableFile,
    TableOperation,
    TableResult,
    TextDownload,
)

__all__ = [
    "ALIGN_INPUT",
    "Alignment",
    "CatalogFrame",
    "CompositeOperation",
    "FramePlanes",
    "FrameByFrameOperation",
    "FrameProduct",
    "StackOperation",
    "TableDownload",
    "TableFile",
    "TableOperation",
    "TableResult",
    "TextDownload",
]
