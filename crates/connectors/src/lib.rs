//! Platform connectors: one module per platform behind one trait. Built out by issue #4.
