//! Procedural macros of the `telemetry` crate; use them through `telemetry`, not from here.
//! The generated code names the SDK `::telemetry`, or the path given: `#[metrics(crate =
//! "...")]` on a struct, the `$crate` that `telemetry::attribute_enum!` and
//! `telemetry::unbounded_attribute!` pass first to the attribute macros here.

mod attributes;
mod derive;
mod rules;

use proc_macro::TokenStream;

/// Declares a component's metrics as one struct: see `telemetry::Metrics`.
#[proc_macro_derive(Metrics, attributes(metrics, metric))]
pub fn derive_metrics(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares a closed attribute: see `telemetry::attribute_enum!`, which calls it with the
/// SDK's path first (`$crate; ...`).
#[proc_macro]
pub fn attribute_enum(input: TokenStream) -> TokenStream {
    syn::parse_macro_input!(input as attributes::AttributeEnum)
        .expand()
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares an unbounded attribute key: see `telemetry::unbounded_attribute!`, which calls
/// it with the SDK's path first (`$crate; ...`).
#[proc_macro]
pub fn unbounded_attribute(input: TokenStream) -> TokenStream {
    syn::parse_macro_input!(input as attributes::UnboundedAttribute)
        .expand()
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
