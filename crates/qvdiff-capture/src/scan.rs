//! The source scanner: finds every `#[derive(Model)]` struct in a file's text and runs the same
//! parser the derive uses.

use crate::{parse_model, CapturedTable, Diagnostic, ScanOutput};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{Attribute, DeriveInput, Item, Path, Token};

/// Parses one source file's text and captures every model in it.
///
/// `file` is only used in locations. Structs are found at the top level and inside inline
/// `mod x { … }` blocks, whatever `#[cfg]` says (the scanner cannot evaluate cfgs). A Rust syntax
/// error is one diagnostic at its location. Diagnostics are sorted by position.
pub fn scan_source(file: &str, text: &str) -> ScanOutput {
    let mut output = ScanOutput::default();
    match syn::parse_file(text) {
        Ok(parsed) => {
            for item in parsed.items {
                scan_item(file, item, &mut output);
            }
        }
        Err(error) => output
            .errors
            .extend(diagnostics(file, &error).into_iter().map(syntax_error)),
    }
    output.errors.sort_by_key(|d| (d.line, d.column));
    output
}

fn scan_item(file: &str, item: Item, output: &mut ScanOutput) {
    let input: DeriveInput = match item {
        Item::Struct(item) if derives_model(&item.attrs) => item.into(),
        Item::Enum(item) if derives_model(&item.attrs) => item.into(),
        Item::Union(item) if derives_model(&item.attrs) => item.into(),
        Item::Mod(module) => {
            for inner in module.content.map(|(_, items)| items).unwrap_or_default() {
                scan_item(file, inner, output);
            }
            return;
        }
        _ => return,
    };
    match parse_model(&input) {
        Ok(table) => {
            let start = input.ident.span().start();
            output.tables.push(CapturedTable {
                table,
                struct_name: input.ident.unraw().to_string(),
                file: file.to_string(),
                line: start.line.max(1),
                column: start.column + 1,
            });
        }
        Err(error) => output.errors.extend(diagnostics(file, &error)),
    }
}

/// `#[derive(…, Model, …)]` with `Model`, `qvdiff::Model` or `qvdiff_derive::Model`.
fn derives_model(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .any(|attr| {
            attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .map(|paths| paths.iter().any(is_model_path))
                .unwrap_or(false)
        })
}

fn is_model_path(path: &Path) -> bool {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [only] => only == "Model",
        [krate, last] => last == "Model" && (krate == "qvdiff" || krate == "qvdiff_derive"),
        _ => false,
    }
}

/// One diagnostic per message in a (possibly combined) syn error.
/// A file that is not valid Rust: said so, since syn's own text ("expected `,`") does not tell a
/// model error from a syntax error, and its lexer error names no delimiter at all.
fn syntax_error(mut diagnostic: Diagnostic) -> Diagnostic {
    diagnostic.message = if diagnostic.message == "cannot parse string into token stream" {
        "syntax error: an unclosed `{`, `(` or `[`, or an unterminated string or comment, from \
         here on; `cargo check` shows the exact place"
            .to_string()
    } else {
        format!("syntax error: {}", diagnostic.message)
    };
    diagnostic
}

fn diagnostics(file: &str, error: &syn::Error) -> Vec<Diagnostic> {
    error
        .clone()
        .into_iter()
        .map(|part| {
            let start = part.span().start();
            Diagnostic {
                file: file.to_string(),
                line: start.line.max(1),
                column: start.column + 1,
                message: part.to_string(),
            }
        })
        .collect()
}
