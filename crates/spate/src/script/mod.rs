//! SQL scripts: many statements in one text, split with their line numbers, with `${name}`
//! parameters filled in.
//!
//! One lexer ([`lexer`]) knows where strings, quoted identifiers and comments are; the
//! splitter cuts at semicolons outside them, and parameter substitution skips comments, so a
//! `${x}` mentioned in a comment never needs a value.

mod lexer;
mod params;
mod splitter;

pub use params::substitute;
pub use splitter::{ScriptStatement, is_complete, split_statements};
