"""The connector library: pure core and worker at the top, families of modules as packages (docs/architecture.md)."""
