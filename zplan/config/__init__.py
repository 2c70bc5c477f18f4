"""Configuration: HCL files -> blocks and expressions -> the typed model."""
