"""Store backends: ``base.LayerStore`` is the interface, one module per backend."""
