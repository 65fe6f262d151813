"""The Django side of `cargo xtask`: the settings' isolation (`isolation`), the template's content key
(`key`) and the migrated templates, built once and cloned per worker (`templates`)."""
