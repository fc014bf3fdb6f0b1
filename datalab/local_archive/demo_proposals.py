"""The proposals of the demo sky (pure data, importable without astropy)."""

# id -> (title, proprietary): proprietary proposals' frames stay private for a year after observation.
DEMO_PROPOSALS: dict[str, tuple[str, bool]] = {
    "LCOEPO2026B-001": ("Datalab demo: public education frames", False),
    "LCO2026B-012": ("Datalab demo: a proprietary globular cluster programme", True),
}
DEMO_PROPOSAL_TITLES = {proposal: title for proposal, (title, _) in DEMO_PROPOSALS.items()}
