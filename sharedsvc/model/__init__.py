"""The model of a consortium: its values (`consortium`), how a file becomes one (`load`),
the checks any value must pass (`validate`), typed fields (`fields`) and the TOML writer."""
