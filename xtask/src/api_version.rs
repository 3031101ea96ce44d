//! Takes the `api-version` request header out of the generated client.
//!
//! progenitor 0.15 adds `api-version: <info.version>` to every request it builds, and has
//! no setting to leave it out. Kallglot versions its API by the `/v1` path and documents no
//! such header (the spec says so in `info.description`), so it must not be sent. Removing
//! it from each request at run time costs every call the header map built for it, its merge
//! into the request and the removal (about 2k instructions per call, measured with
//! callgrind; see `BENCHMARKS.md`). This pass removes the statement from the generated code
//! instead, and lowers the capacity of the header map it went into to match, which is zero,
//! and so no allocation, for an operation without header parameters.
//!
//! The pass is strict: if progenitor's output does not have the shape it expects, code
//! generation fails instead of silently sending the header again.

use quote::ToTokens;
use syn::{Block, Expr, ImplItem, Item, Lit, Stmt};

/// The header's name, as progenitor spells it.
const HEADER: &str = "\"api-version\"";

/// Removes every `header_map.append("api-version", …)` from the generated file and lowers
/// the matching `HeaderMap::with_capacity(n)`; returns how many operations it changed.
pub fn strip(file: &mut syn::File) -> Result<usize, String> {
    let mut changed = 0;
    strip_items(&mut file.items, &mut changed)?;
    if changed == 0 {
        return Err(
            "progenitor's output has no `api-version` header to remove: update xtask's \
             api_version pass for the new generator"
                .to_string(),
        );
    }
    if file.to_token_stream().to_string().contains(HEADER) {
        return Err(
            "progenitor's output still names the `api-version` header after removing it: \
             update xtask's api_version pass for the new generator"
                .to_string(),
        );
    }
    Ok(changed)
}

fn strip_items(items: &mut [Item], changed: &mut usize) -> Result<(), String> {
    for item in items {
        match item {
            Item::Mod(module) => {
                if let Some((_, items)) = &mut module.content {
                    strip_items(items, changed)?;
                }
            }
            Item::Impl(block) => {
                for member in &mut block.items {
                    if let ImplItem::Fn(function) = member
                        && strip_block(&mut function.block)?
                    {
                        *changed += 1;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether `block` (one operation's `send`) added the header; if so it no longer does.
fn strip_block(block: &mut Block) -> Result<bool, String> {
    let before = block.stmts.len();
    block.stmts.retain(|stmt| !appends_api_version(stmt));
    let removed = before - block.stmts.len();
    if removed == 0 {
        return Ok(false);
    }
    let local = block
        .stmts
        .iter_mut()
        .find_map(header_map_local)
        .ok_or("an operation adds `api-version` to a header map that is not preallocated")?;
    let capacity = local_capacity(local)
        .ok_or("an operation adds `api-version` to a header map that is not preallocated")?;
    let n: usize = capacity
        .base10_parse()
        .map_err(|e| format!("the header map's capacity is not a number: {e}"))?;
    let n = n
        .checked_sub(removed)
        .ok_or("the header map's capacity is smaller than its headers")?;
    *capacity = syn::LitInt::new(&format!("{n}usize"), capacity.span());
    if n == 0
        && let syn::Pat::Ident(binding) = &mut local.pat
    {
        // Nothing else is added to it: it no longer needs to be mutable.
        binding.mutability = None;
    }
    Ok(true)
}

/// `header_map.append(HeaderName::from_static("api-version"), …);`
fn appends_api_version(stmt: &Stmt) -> bool {
    let Stmt::Expr(Expr::MethodCall(call), _) = stmt else {
        return false;
    };
    call.method == "append"
        && call.receiver.to_token_stream().to_string() == "header_map"
        && call
            .args
            .first()
            .is_some_and(|name| name.to_token_stream().to_string().contains(HEADER))
}

/// `let mut header_map = …;`
fn header_map_local(stmt: &mut Stmt) -> Option<&mut syn::Local> {
    match stmt {
        Stmt::Local(local)
            if local
                .pat
                .to_token_stream()
                .to_string()
                .ends_with("header_map") =>
        {
            Some(local)
        }
        _ => None,
    }
}

/// The `n` of `let mut header_map = HeaderMap::with_capacity(n);`.
fn local_capacity(local: &mut syn::Local) -> Option<&mut syn::LitInt> {
    let Expr::Call(call) = &mut *local.init.as_mut()?.expr else {
        return None;
    };
    if !call
        .func
        .to_token_stream()
        .to_string()
        .ends_with("with_capacity")
    {
        return None;
    }
    match call.args.first_mut()? {
        Expr::Lit(lit) => match &mut lit.lit {
            Lit::Int(n) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(extra: &str, capacity: usize) -> String {
        format!(
            "mod builder {{ impl<'a> Op<'a> {{ pub async fn send(self) {{
                let mut header_map = ::reqwest::header::HeaderMap::with_capacity({capacity}usize);
                header_map.append(
                    ::reqwest::header::HeaderName::from_static(\"api-version\"),
                    ::reqwest::header::HeaderValue::from_static(super::Client::api_version()),
                );
                {extra}
                let request = client.client.get(url).headers(header_map).build()?;
            }} }} }}"
        )
    }

    #[test]
    fn removes_the_header_and_its_capacity() {
        let mut file = syn::parse_file(&send("", 1)).unwrap();
        assert_eq!(strip(&mut file), Ok(1));
        let out = file.to_token_stream().to_string();
        assert!(!out.contains("api-version"), "{out}");
        assert!(out.contains("with_capacity (0usize)"), "{out}");
        assert!(out.contains("let header_map ="), "no longer `mut`: {out}");
        assert!(out.contains(". headers (header_map)"), "{out}");
    }

    #[test]
    fn keeps_the_operations_own_headers() {
        let own = "if let Some(value) = key { header_map.append(\"Idempotency-Key\", value.to_string().try_into()?); }";
        let mut file = syn::parse_file(&send(own, 2)).unwrap();
        assert_eq!(strip(&mut file), Ok(1));
        let out = file.to_token_stream().to_string();
        assert!(out.contains("\"Idempotency-Key\""), "{out}");
        assert!(out.contains("with_capacity (1usize)"), "{out}");
        assert!(out.contains("let mut header_map ="), "{out}");
    }

    #[test]
    fn output_of_another_shape_is_an_error() {
        let mut none = syn::parse_file("mod builder { impl A { fn send() {} } }").unwrap();
        assert!(strip(&mut none).unwrap_err().contains("no `api-version`"));
        // The header set some other way than the pass knows: refused, not left in.
        let mut other =
            syn::parse_file(&format!("{} const H: &str = \"api-version\";", send("", 1))).unwrap();
        assert!(strip(&mut other).unwrap_err().contains("still names"));
    }
}
