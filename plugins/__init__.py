"""sharedsvc's built-in plugins, installed as the package `sharedsvc_plugins`.

They are registered through the `sharedsvc` entry-point group in
`pyproject.toml`, exactly as a third-party plugin is.
"""
