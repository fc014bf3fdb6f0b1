"""Mapping between the viewer's displayed-image pixels and the frame's FITS pixels.

The viewer shows the frame scaled to ``width`` x ``height`` display pixels with y measured up from
the bottom, so display (0, 0) is the bottom-left corner of the frame and display
(width, height) its top-right corner. FITS pixel ``i`` (0-based) covers ``[i - 0.5, i + 0.5)``.
"""
from __future__ import annotations

from dataclasses import dataclass

from data_operations.errors import InputValidationError


@dataclass(frozen=True)
class DisplayGeometry:
    """A frame of ``columns`` x ``rows`` FITS pixels shown at ``width`` x ``height`` display pixels."""

    width: float
    height: float
    columns: int
    rows: int

    def to_pixel(self, horizontal: float, vertical: float) -> tuple[float, float]:
        """0-based (column, row) of a display point (vertical measured up from the bottom)."""
        return horizontal * self.columns / self.width - 0.5, vertical * self.rows / self.height - 0.5

    def to_display(self, column: float, row: float) -> tuple[float, float]:
        """Display (horizontal, vertical) of a 0-based FITS pixel position."""
        return (column + 0.5) * self.width / self.columns, (row + 0.5) * self.height / self.rows

    def display_scale(self) -> float:
        """Display pixels per FITS pixel along x (the viewer keeps the aspect ratio)."""
        return self.width / self.columns

    def require_inside(self, horizontal: float, vertical: float, *, action: str, names: str) -> None:
        """InputValidationError unless the display point lies on the displayed image."""
        if not (0.0 <= horizontal <= self.width and 0.0 <= vertical <= self.height):
            raise InputValidationError(
                f"{action}: point {names} = ({horizontal:g}, {vertical:g}) is outside the displayed image "
                f"of {self.width:g} x {self.height:g} pixels."
            )
