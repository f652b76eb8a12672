"""Training of the embedded default model (three CAD stages + image prior) on the synthetic god-synth set."""
