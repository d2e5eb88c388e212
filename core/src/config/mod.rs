//! The model of an Embulk-style transfer config (`in:` / `filters:` / `out:` / `exec:`).
