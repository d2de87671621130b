//! Fleet mode: snapshot policies as code (`snapctl policy …`). This first step is the file: its
//! format, parsed and checked by `snapctl policy validate`, which sends nothing. Planning and
//! applying build on it.

pub mod file;
