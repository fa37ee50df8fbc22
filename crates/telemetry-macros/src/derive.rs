//! `#[derive(Metrics)]`: one struct per component, one field per metric.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitFloat, LitInt, LitStr, Token, Type};

use crate::rules::{check_buckets, check_metric_name, check_unit};

/// One field's declaration, checked.
struct MetricField {
    ident: Ident,
    ty: Type,
    description: String,
    doc_attrs: Vec<syn::Attribute>,
    name: String,
    unit: LitStr,
    buckets: Option<(Vec<f64>, Span)>,
    limit: Option<LitInt>,
    observable: bool,
}

/// The text of the `///` comments in `attrs`, one line, or `None` without any.
fn doc_text(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .filter(|line| !line.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

/// `[1.0, 2.5, ...]` with optional minus signs.
fn parse_buckets(input: ParseStream) -> syn::Result<(Vec<f64>, Span)> {
    let content;
    let bracket = syn::bracketed!(content in input);
    let mut bounds = Vec::new();
    while !content.is_empty() {
        let negative = content.parse::<Option<Token![-]>>()?.is_some();
        let value = if content.peek(LitFloat) {
            content.parse::<LitFloat>()?.base10_parse::<f64>()?
        } else {
            content.parse::<LitInt>()?.base10_parse::<f64>()?
        };
        bounds.push(if negative { -value } else { value });
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    Ok((bounds, bracket.span.join()))
}

/// The instrument types' names; a field typed through an alias is checked by the const
/// assertions alone.
const KNOWN_INSTRUMENTS: &[&str] = &[
    "Counter",
    "UpDownCounter",
    "Gauge",
    "Histogram",
    "ObservableCounter",
    "ObservableUpDownCounter",
    "ObservableGauge",
];

/// The instrument a field type names by its last path segment (`Counter`,
/// `ObservableGauge`, ...). The rules that depend on it are checked here for an exact error
/// span, and again by const assertions on the type itself (which also cover aliases).
fn instrument_name(ty: &Type) -> String {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn parse_field(prefix: &str, field: &syn::Field) -> syn::Result<MetricField> {
    let ident = field.ident.clone().expect("named fields");
    let description = doc_text(&field.attrs).ok_or_else(|| {
        syn::Error::new(
            ident.span(),
            format!("metric field `{ident}` needs a doc comment: it is the metric's description"),
        )
    })?;
    let mut relative_name = LitStr::new(&ident.to_string(), ident.span());
    let mut unit = None;
    let mut buckets = None;
    let mut limit = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("metric")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("unit") {
                unit = Some(meta.value()?.parse::<LitStr>()?);
            } else if meta.path.is_ident("name") {
                relative_name = meta.value()?.parse::<LitStr>()?;
            } else if meta.path.is_ident("buckets") {
                buckets = Some(parse_buckets(meta.value()?)?);
            } else if meta.path.is_ident("limit") {
                limit = Some(meta.value()?.parse::<LitInt>()?);
            } else {
                return Err(meta.error("expected `unit`, `name`, `buckets` or `limit`"));
            }
            Ok(())
        })?;
    }
    let unit = unit.ok_or_else(|| {
        syn::Error::new(
            ident.span(),
            format!("metric field `{ident}` needs `#[metric(unit = \"...\")]` (s, By, 1 or a {{annotation}})"),
        )
    })?;
    check_unit(&unit.value()).map_err(|reason| {
        syn::Error::new(unit.span(), format!("unit `{}` {reason}", unit.value()))
    })?;
    let name = format!("{prefix}.{}", relative_name.value());
    check_metric_name(&name).map_err(|reason| {
        syn::Error::new(
            relative_name.span(),
            format!("metric name `{name}` {reason}"),
        )
    })?;
    let instrument = instrument_name(&field.ty);
    let known = KNOWN_INSTRUMENTS.contains(&instrument.as_str());
    if unit.value() == "1" && known && !instrument.ends_with("Gauge") {
        return Err(syn::Error::new(
            unit.span(),
            "unit `1` is only allowed on gauges (Prometheus' OTLP translation and the bridge would name anything else differently)",
        ));
    }
    if let Some((bounds, span)) = &buckets {
        if known && instrument != "Histogram" {
            return Err(syn::Error::new(*span, "only histograms have buckets"));
        }
        check_buckets(bounds).map_err(|reason| syn::Error::new(*span, reason))?;
    }
    if let Some(limit) = &limit {
        if limit.base10_parse::<usize>()? == 0 {
            return Err(syn::Error::new(
                limit.span(),
                "a cardinality limit must be at least 1",
            ));
        }
    }
    Ok(MetricField {
        observable: instrument.starts_with("Observable"),
        ident,
        ty: field.ty.clone(),
        description,
        doc_attrs: field
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect(),
        name,
        unit,
        buckets,
        limit,
    })
}

/// `tokens` with every token at `span`.
fn respanned(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// What `#[metrics(...)]` on the struct says.
struct StructOptions {
    /// The namespace, checked.
    prefix: String,
    /// The path of the SDK crate: `::telemetry` unless renamed with `crate = "..."`.
    krate: syn::Path,
}

/// Parses `#[metrics(prefix = "...", crate = "...")]`.
fn parse_struct_options(input: &DeriveInput) -> syn::Result<StructOptions> {
    let mut prefix = None;
    let mut krate: syn::Path = syn::parse_quote!(::telemetry);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("metrics")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("prefix") {
                let lit = meta.value()?.parse::<LitStr>()?;
                check_metric_name(&lit.value()).map_err(|reason| {
                    syn::Error::new(lit.span(), format!("prefix `{}` {reason}", lit.value()))
                })?;
                prefix = Some(lit.value());
                Ok(())
            } else if meta.path.is_ident("crate") {
                krate = meta.value()?.parse::<LitStr>()?.parse()?;
                Ok(())
            } else {
                Err(meta.error("expected `prefix = \"...\"` or `crate = \"...\"`"))
            }
        })?;
    }
    let prefix = prefix.ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            "a metrics struct needs `#[metrics(prefix = \"...\")]`: its namespace, e.g. \"mynode.sync\"",
        )
    })?;
    Ok(StructOptions { prefix, krate })
}

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let StructOptions { prefix, krate } = parse_struct_options(&input)?;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "a metrics struct cannot be generic: its metrics are registered once, in the catalog",
        ));
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => &named.named,
            _ => {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "#[derive(Metrics)] needs a struct with named fields: one per metric",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new(
                input.ident.span(),
                "#[derive(Metrics)] needs a struct with named fields: one per metric",
            ))
        }
    };
    if fields.is_empty() {
        return Err(syn::Error::new(
            input.ident.span(),
            "a metrics struct needs at least one metric field",
        ));
    }
    let fields = fields
        .iter()
        .map(|f| parse_field(&prefix, f))
        .collect::<syn::Result<Vec<_>>>()?;

    let name = &input.ident;
    let vis = &input.vis;
    let tp = quote!(#krate::__private);

    let checks = fields.iter().map(|f| {
        let ty = &f.ty;
        let unit = &f.unit;
        let observable = f.observable;
        // The whole call, the SDK's path included, carries the span of what it checks: a
        // failing const evaluation points there.
        let at = |span: Span| respanned(tp.clone(), span);
        let (ty_tp, unit_tp) = (at(ty.span()), at(unit.span()));
        let mut checks = vec![
            quote_spanned! {ty.span()=> const _: () = #ty_tp::check_observable::<#ty>(#observable); },
            quote_spanned! {unit.span()=> const _: () = #unit_tp::check_unit_for::<#ty>(#unit); },
        ];
        if let Some((_, span)) = &f.buckets {
            let tp = at(*span);
            checks.push(quote_spanned! {*span=> const _: () = #tp::check_buckets_for::<#ty>(); });
        }
        if let Some(limit) = &f.limit {
            let tp = at(limit.span());
            checks.push(
                quote_spanned! {limit.span()=> const _: () = #tp::check_limit_for::<#ty>(#limit); },
            );
        }
        quote!(#(#checks)*)
    });

    let definitions = fields.iter().map(|f| {
        let ty = &f.ty;
        let metric = &f.name;
        let description = &f.description;
        let unit = &f.unit;
        let buckets = match &f.buckets {
            Some((bounds, _)) => quote!(::core::option::Option::Some(&[#(#bounds),*])),
            None => quote!(::core::option::Option::None),
        };
        let limit = match &f.limit {
            Some(limit) => quote!(::core::option::Option::Some(#limit)),
            None => quote!(::core::option::Option::None),
        };
        let field = f.ident.to_string();
        quote! {
            #tp::definition::<#ty>(#tp::Declaration {
                name: #metric,
                description: #description,
                unit: #unit,
                buckets: #buckets,
                limit: #limit,
                component: #prefix,
                defined_at: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name), "::", #field),
            })
        }
    });

    let observables: Vec<&MetricField> = fields.iter().filter(|f| f.observable).collect();
    let observable_idents: Vec<&Ident> = observables.iter().map(|f| &f.ident).collect();
    let callbacks_name = format_ident!("{}Callbacks", name);
    let initializers = fields.iter().enumerate().map(|(index, f)| {
        let ident = &f.ident;
        let ty = &f.ty;
        let callback = if f.observable {
            quote!(callbacks.#ident)
        } else {
            quote!(())
        };
        quote! {
            #ident: <#ty as #tp::Field>::create(meter, &<Self as #krate::Metrics>::DEFINITIONS[#index], #callback)
        }
    });

    let (callbacks_type, callbacks_struct, new_param, new_arg) = if observables.is_empty() {
        (quote!(()), quote!(), quote!(), quote!(()))
    } else {
        let callback_fields = observables.iter().map(|f| {
            let ident = &f.ident;
            let ty = &f.ty;
            let docs = &f.doc_attrs;
            quote! {
                #(#docs)*
                pub #ident: <#ty as #tp::Field>::Callback
            }
        });
        let doc = format!(
            "The callbacks of [`{name}`]'s observable instruments, one per observable field: each reads its value at collection time."
        );
        (
            quote!(#callbacks_name),
            quote! {
                #[doc = #doc]
                #vis struct #callbacks_name {
                    #(#callback_fields,)*
                }
            },
            quote!(, callbacks: #callbacks_name),
            quote!(callbacks),
        )
    };
    let new_doc = format!(
        "Creates every metric of `{prefix}` on `client`: closed attribute sets are bound and seeded now. On a disabled client every instrument is a no-op."
    );
    let instance_doc = "Like `new`, for one of a handful of long-lived instances of this component (shards, chains): every series carries `component.instance=<instance>`. Copies with the same instance share their series. At most `telemetry::MAX_COMPONENT_INSTANCES` instances (the plain `new` counts as one) have series of their own at once, retired ones included; the others record into the metric's `otel.metric.overflow` series, counted. For one struct per connection or peer, use `new`: copies add up.";
    let entry = format_ident!("__TELEMETRY_CATALOG_{}", name.to_string().to_uppercase());

    Ok(quote! {
        #callbacks_struct

        #[allow(dead_code)]
        impl #name {
            #[doc = #new_doc]
            #vis fn new(client: &#krate::TelemetryClient #new_param) -> Self {
                #tp::register::<Self>(client, ::core::option::Option::None, #new_arg)
            }

            #[doc = #instance_doc]
            #vis fn new_instance(
                client: &#krate::TelemetryClient,
                instance: impl ::core::convert::Into<::std::string::String>
                #new_param
            ) -> Self {
                #tp::register::<Self>(client, ::core::option::Option::Some(instance.into()), #new_arg)
            }
        }

        const _: () = {
            #(#checks)*

            impl #krate::Metrics for #name {
                const PREFIX: &'static str = #prefix;
                const DEFINITIONS: &'static [#krate::MetricInfo] = &[#(#definitions),*];
                type Callbacks = #callbacks_type;

                #[allow(unused_variables)]
                fn register(meter: &#tp::ComponentMeter, callbacks: Self::Callbacks) -> Self {
                    let metrics = Self { #(#initializers,)* };
                    // Observable fields are held for their callbacks, never read by the node.
                    let _ = (#(&metrics.#observable_idents,)*);
                    metrics
                }
            }

            #[#tp::linkme::distributed_slice(#tp::CATALOG)]
            #[linkme(crate = #tp::linkme)]
            static #entry: &'static [#krate::MetricInfo] = <#name as #krate::Metrics>::DEFINITIONS;
        };
    })
}
