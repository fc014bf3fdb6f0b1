"""Datalab: a REST service that runs data operations on astronomical FITS frames."""

__version__ = "0.1.0"
