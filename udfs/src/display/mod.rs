//! Functions that draw values for reading in a terminal.

pub mod bar;
