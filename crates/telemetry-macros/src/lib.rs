//! Procedural macros of the `telemetry` crate; use them through `telemetry` (the generated
//! code names `::telemetry`), not from here.

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

/// Declares a closed attribute: see `telemetry::attribute_enum!`.
#[proc_macro]
pub fn attribute_enum(input: TokenStream) -> TokenStream {
    syn::parse_macro_input!(input as attributes::AttributeEnum)
        .expand()
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares an unbounded attribute key: see `telemetry::unbounded_attribute!`.
#[proc_macro]
pub fn unbounded_attribute(input: TokenStream) -> TokenStream {
    syn::parse_macro_input!(input as attributes::UnboundedAttribute)
        .expand()
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
