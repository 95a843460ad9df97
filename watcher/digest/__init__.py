"""The weekly digest: `view` (the store and a week → raw text), a renderer per format that
escapes for it (`markdown`), and `publish` (render, write atomically, record)."""
