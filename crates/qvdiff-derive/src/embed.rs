//! `embed_migrations!("migrations")`: the migration files of a directory, compiled into the
//! binary.
//!
//! A `macro_rules!` macro cannot list a directory, so this proc-macro does, at compile time,
//! relative to the `CARGO_MANIFEST_DIR` of the crate that invokes it. It emits
//! `&[(file_name, include_str!(absolute_path)), …]` sorted by file name: `include_str!` makes
//! cargo rebuild when a listed file is edited. Every file is also parsed here, so a malformed
//! migration is a compile error naming the file and line instead of a start-up failure.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use std::path::{Path, PathBuf};
use syn::LitStr;

/// Expands `embed_migrations!()` / `embed_migrations!("dir")`.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let (dir, span) = if input.is_empty() {
        ("migrations".to_string(), Span::call_site())
    } else {
        match syn::parse2::<LitStr>(input) {
            Ok(lit) => (lit.value(), lit.span()),
            Err(e) => {
                return syn::Error::new(
                    e.span(),
                    "expected the migrations directory as a string literal, relative to the \
                     crate's Cargo.toml, e.g. embed_migrations!(\"migrations\")",
                )
                .to_compile_error()
            }
        }
    };
    match read_migrations(&dir) {
        Ok(files) => {
            let entries = files.iter().map(|(name, path)| {
                let path = path.to_string_lossy().into_owned();
                quote! { (#name, ::core::include_str!(#path)) }
            });
            quote! {{
                const MIGRATIONS: &[(&str, &str)] = &[#(#entries),*];
                MIGRATIONS
            }}
        }
        Err(messages) => {
            let errors = messages
                .iter()
                .map(|message| syn::Error::new(span, message).to_compile_error());
            quote! {{ #(#errors)* const MIGRATIONS: &[(&str, &str)] = &[]; MIGRATIONS }}
        }
    }
}

/// `(file name, absolute path)` of every `*.sql` file of `dir`, sorted; or every problem found.
fn read_migrations(dir: &str) -> Result<Vec<(String, PathBuf)>, Vec<String>> {
    let base = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let dir_path = base.join(dir);
    let entries = std::fs::read_dir(&dir_path).map_err(|e| {
        vec![format!(
            "cannot read the migrations directory {}: {e} (the path is relative to the \
             crate's Cargo.toml)",
            dir_path.display()
        )]
    })?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(format!("reading {}: {e}", dir_path.display()));
                continue;
            }
        };
        let path = entry.path();
        if path.extension() != Some(std::ffi::OsStr::new("sql")) || !path.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Err(message) = check_file(&path) {
            errors.push(format!("{dir}/{name}:{message}"));
            continue;
        }
        // An absolute path, so include_str! does not depend on where the macro is invoked.
        let absolute = path.canonicalize().unwrap_or(path);
        files.push((name, absolute));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    files.sort();
    Ok(files)
}

/// Parses one file the way the runner will; the error is `line: message`.
fn check_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!(" {e}"))?;
    qvdiff_core::MigrationFile::parse(&text)
        .map(drop)
        .map_err(|e| format!("{}: {}", e.line, e.message))
}
