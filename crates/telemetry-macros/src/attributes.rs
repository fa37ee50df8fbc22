//! `attribute_enum!` and `unbounded_attribute!`: typed attribute declarations.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, Attribute, Ident, LitInt, LitStr, Token, Visibility};

use crate::rules::check_attribute_key;

/// `$crate; $(#[meta])* $vis enum $name : "key" { $( $(#[meta])* Variant => "value" ),+ }`
pub struct AttributeEnum {
    krate: TokenStream,
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    key: LitStr,
    variants: Punctuated<Variant, Token![,]>,
}

struct Variant {
    attrs: Vec<Attribute>,
    name: Ident,
    value: LitStr,
}

impl Parse for Variant {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let name = input.parse()?;
        input.parse::<Token![=>]>()?;
        let value = input.parse()?;
        Ok(Self { attrs, name, value })
    }
}

impl Parse for AttributeEnum {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let krate = parse_crate_path(input)?;
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<Token![enum]>()?;
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let key = input.parse()?;
        let content;
        braced!(content in input);
        let variants = content.parse_terminated(Variant::parse, Token![,])?;
        Ok(Self {
            krate,
            attrs,
            vis,
            name,
            key,
            variants,
        })
    }
}

/// The SDK crate's path, which the `telemetry` crate's wrapper macro passes first
/// (`$crate;`), so that a renamed dependency works.
fn parse_crate_path(input: ParseStream) -> syn::Result<TokenStream> {
    let mut path = TokenStream::new();
    while !input.peek(Token![;]) {
        path.extend([input.parse::<proc_macro2::TokenTree>()?]);
    }
    input.parse::<Token![;]>()?;
    Ok(path)
}

/// Checks an attribute key literal, with the error on the literal.
fn checked_key(key: &LitStr) -> syn::Result<()> {
    check_attribute_key(&key.value()).map_err(|reason| {
        syn::Error::new(
            key.span(),
            format!("attribute key `{}` {reason}", key.value()),
        )
    })
}

impl AttributeEnum {
    pub fn expand(self) -> syn::Result<TokenStream> {
        checked_key(&self.key)?;
        if self.variants.is_empty() {
            return Err(syn::Error::new(
                self.name.span(),
                "an attribute enum needs at least one value",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for variant in &self.variants {
            let value = variant.value.value();
            if value.is_empty() {
                return Err(syn::Error::new(
                    variant.value.span(),
                    "an attribute value must not be empty",
                ));
            }
            if !seen.insert(value.clone()) {
                return Err(syn::Error::new(
                    variant.value.span(),
                    format!("the value `{value}` is declared twice"),
                ));
            }
        }
        let Self {
            krate,
            attrs,
            vis,
            name,
            key,
            variants,
        } = self;
        let count = variants.len();
        let variant_attrs = variants.iter().map(|v| &v.attrs);
        let names: Vec<_> = variants.iter().map(|v| &v.name).collect();
        let values = variants.iter().map(|v| &v.value);
        Ok(quote! {
            #(#attrs)*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            #vis enum #name {
                #( #(#variant_attrs)* #names ),*
            }

            #[allow(dead_code)]
            impl #name {
                /// Every value, in declaration order.
                pub const ALL: &'static [#name] = &[#(#name::#names),*];
                /// The attribute key.
                pub const KEY: &'static str = #key;
                const VALUES: &'static [&'static str] = &[#(#values),*];

                /// The attribute value as exported.
                pub const fn as_str(self) -> &'static str {
                    Self::VALUES[self as usize]
                }
            }

            impl #krate::__private::Sealed for #name {}

            impl #krate::Attribute for #name {
                const INFO: #krate::AttributeInfo = #krate::AttributeInfo::closed(#key, Self::VALUES);
                const CARDINALITY: usize = #count;
                const CLOSED: bool = true;
                #[inline(always)]
                fn index(&self) -> usize {
                    *self as usize
                }
                fn key_value(&self) -> ::core::option::Option<#krate::__private::KeyValue> {
                    ::core::option::Option::Some(#krate::__private::KeyValue::new(#key, self.as_str()))
                }
                fn key_value_at(index: usize) -> ::core::option::Option<#krate::__private::KeyValue> {
                    ::core::option::Option::Some(#krate::__private::KeyValue::new(#key, Self::VALUES[index]))
                }
            }
        })
    }
}

/// `$crate; $(#[meta])* $vis $name : "key", limit = N`
pub struct UnboundedAttribute {
    krate: TokenStream,
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    key: LitStr,
    limit: LitInt,
}

impl Parse for UnboundedAttribute {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let krate = parse_crate_path(input)?;
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        let key = input.parse()?;
        input.parse::<Token![,]>()?;
        let word: Ident = input.parse()?;
        if word != "limit" {
            return Err(syn::Error::new(word.span(), "expected `limit = N`"));
        }
        input.parse::<Token![=]>()?;
        let limit = input.parse()?;
        Ok(Self {
            krate,
            attrs,
            vis,
            name,
            key,
            limit,
        })
    }
}

impl UnboundedAttribute {
    pub fn expand(self) -> syn::Result<TokenStream> {
        checked_key(&self.key)?;
        if self.limit.base10_parse::<usize>()? == 0 {
            return Err(syn::Error::new(
                self.limit.span(),
                "the cardinality limit must be at least 1",
            ));
        }
        let Self {
            krate,
            attrs,
            vis,
            name,
            key,
            limit,
        } = self;
        Ok(quote! {
            #(#attrs)*
            #[derive(Debug, Clone, Copy)]
            #vis struct #name;
            impl #krate::UnboundedKey for #name {
                const KEY: &'static str = #key;
                const LIMIT: usize = #limit;
            }
        })
    }
}
