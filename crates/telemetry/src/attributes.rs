//! Typed attribute keys and values.
//!
//! A metric's attributes are a tuple type (`()`, `(A,)`, `(A, B)`, ... up to four) whose
//! elements implement [`Attribute`]. Two kinds exist:
//!
//! - **closed** sets, Rust enums declared with [`attribute_enum!`](crate::attribute_enum):
//!   every combination is known up front, so instruments pre-bind one handle per combination
//!   and seed it at zero; recording is an index computation, never a hash. `Option<E>` of a
//!   closed `E` is closed too: `None` leaves the key out (as `error.type` on a success);
//! - **unbounded** values ([`Unbounded`]), declared with
//!   [`unbounded_attribute!`](crate::unbounded_attribute) together with their cardinality
//!   limit. High-cardinality identifiers (`tx.hash`, `peer.id`, `block.number`, ...) do not
//!   compile as attribute keys.

use std::borrow::Cow;
use std::marker::PhantomData;

use opentelemetry::KeyValue;

use crate::__private::Sealed;

/// What the catalog knows about one attribute of a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AttributeInfo {
    /// The attribute key, e.g. `rpc.method`.
    pub key: &'static str,
    /// The values it may take.
    pub values: AttributeValues,
    /// Whether the key may be absent (an `Option<E>` attribute).
    pub optional: bool,
}

impl AttributeInfo {
    /// A closed attribute with exactly `values`.
    #[doc(hidden)]
    pub const fn closed(key: &'static str, values: &'static [&'static str]) -> Self {
        Self {
            key,
            values: AttributeValues::Closed(values),
            optional: false,
        }
    }

    /// How many series this attribute gives (absence included), `None` when unbounded.
    pub fn closed_count(&self) -> Option<usize> {
        match self.values {
            AttributeValues::Closed(values) => Some(values.len() + usize::from(self.optional)),
            AttributeValues::Unbounded { .. } => None,
        }
    }
}

/// The values an attribute may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttributeValues {
    /// A closed set: exactly these strings.
    Closed(&'static [&'static str]),
    /// Any string, at most `limit` distinct values per metric before overflow.
    Unbounded {
        /// Distinct values the metric keeps before folding into the overflow series.
        limit: usize,
    },
}

/// One attribute type: a closed enum, an [`Unbounded`] value, or an `Option` of either.
/// Implemented by [`attribute_enum!`](crate::attribute_enum) and for [`Unbounded`] (sealed).
pub trait Attribute: Sealed + Send + Sync + 'static {
    /// Key, allowed values and limit, for the catalog and the generated docs.
    const INFO: AttributeInfo;
    /// Number of distinct values (variants, or the declared limit).
    const CARDINALITY: usize;
    /// Whether the values form a closed set (and can be pre-bound).
    const CLOSED: bool;
    /// Position of this value among [`Self::CARDINALITY`] (closed sets only; 0 otherwise).
    fn index(&self) -> usize;
    /// The OpenTelemetry attribute for this value (`None`: the key is left out).
    fn key_value(&self) -> Option<KeyValue>;
    /// The attribute for the value at `index` (closed sets only).
    fn key_value_at(index: usize) -> Option<KeyValue>;
}

/// Declares a closed attribute: an enum whose variants are the only values the attribute
/// can take on a metric. A malformed or high-cardinality key, an empty or repeated value,
/// are compile errors on the offending literal.
///
/// ```
/// telemetry::attribute_enum! {
///     /// How an RPC request ended.
///     pub enum Outcome: "rpc.outcome" {
///         /// Answered successfully.
///         Ok => "ok",
///         /// Answered with an error.
///         Error => "error",
///     }
/// }
/// assert_eq!(<Outcome as telemetry::Attribute>::CARDINALITY, 2);
/// assert_eq!(Outcome::Error.as_str(), "error");
/// ```
#[macro_export]
macro_rules! attribute_enum {
    ($($declaration:tt)*) => {
        $crate::__private::attribute_enum! { $crate; $($declaration)* }
    };
}

/// Declares an unbounded attribute key with its cardinality limit.
///
/// ```
/// telemetry::unbounded_attribute! {
///     /// The client software a peer announced.
///     pub PeerClient: "p2p.peer.client", limit = 32
/// }
/// let value = telemetry::Unbounded::<PeerClient>::new("reth/1.2");
/// ```
///
/// A high-cardinality identifier does not compile:
///
/// ```compile_fail
/// telemetry::unbounded_attribute! {
///     /// Transaction hash: never a metric attribute.
///     pub TxHash: "tx.hash", limit = 1000
/// }
/// ```
#[macro_export]
macro_rules! unbounded_attribute {
    ($($declaration:tt)*) => {
        $crate::__private::unbounded_attribute! { $crate; $($declaration)* }
    };
}

/// Names an unbounded attribute key and its cardinality limit; used through [`Unbounded`].
/// Implemented by [`unbounded_attribute!`](crate::unbounded_attribute).
pub trait UnboundedKey: Send + Sync + 'static {
    /// The attribute key.
    const KEY: &'static str;
    /// Distinct values a metric keeps before later ones fold into the overflow series.
    const LIMIT: usize;
}

/// A value of an unbounded attribute `K` (a string not known at compile time).
#[derive(Debug, Clone)]
pub struct Unbounded<K> {
    value: Cow<'static, str>,
    _key: PhantomData<K>,
}

/// Longest attribute value kept; longer values are truncated on a character boundary.
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 256;

impl<K: UnboundedKey> Unbounded<K> {
    /// Wraps a value; values over [`MAX_ATTRIBUTE_VALUE_LEN`] bytes are truncated.
    pub fn new(value: impl Into<Cow<'static, str>>) -> Self {
        let mut value = value.into();
        if value.len() > MAX_ATTRIBUTE_VALUE_LEN {
            let mut cut = MAX_ATTRIBUTE_VALUE_LEN;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value = Cow::Owned(value[..cut].to_owned());
        }
        Self {
            value,
            _key: PhantomData,
        }
    }

    /// The (possibly truncated) value.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl<K> Sealed for Unbounded<K> {}

impl<K: UnboundedKey> Attribute for Unbounded<K> {
    const INFO: AttributeInfo = AttributeInfo {
        key: K::KEY,
        values: AttributeValues::Unbounded { limit: K::LIMIT },
        optional: false,
    };
    const CARDINALITY: usize = K::LIMIT;
    const CLOSED: bool = false;
    fn index(&self) -> usize {
        0
    }
    fn key_value(&self) -> Option<KeyValue> {
        Some(KeyValue::new(K::KEY, self.value.clone()))
    }
    fn key_value_at(_index: usize) -> Option<KeyValue> {
        None // never pre-bound
    }
}

impl<A: Attribute> Sealed for Option<A> {}

/// An attribute that may be absent: `None` leaves the key out of the series (the
/// OpenTelemetry way to say "no error": `error.type` is set on failures only).
impl<A: Attribute> Attribute for Option<A> {
    const INFO: AttributeInfo = AttributeInfo {
        optional: true,
        ..A::INFO
    };
    const CARDINALITY: usize = A::CARDINALITY + 1;
    const CLOSED: bool = A::CLOSED;
    #[inline(always)]
    fn index(&self) -> usize {
        match self {
            Some(value) => value.index(),
            None => A::CARDINALITY,
        }
    }
    fn key_value(&self) -> Option<KeyValue> {
        self.as_ref().and_then(Attribute::key_value)
    }
    fn key_value_at(index: usize) -> Option<KeyValue> {
        if index < A::CARDINALITY {
            A::key_value_at(index)
        } else {
            None
        }
    }
}

/// The full attribute set of a metric: `()` or a tuple of up to four [`Attribute`]s (sealed).
pub trait AttributeSet: Sealed + Send + Sync + 'static {
    /// Per-attribute information, in tuple order.
    const ATTRIBUTES: &'static [AttributeInfo];
    /// Whether every attribute is closed (the set can be pre-bound).
    const CLOSED: bool;
    /// Number of distinct combinations (product of the attributes' cardinalities).
    const COMBINATIONS: usize;
    /// Mixed-radix position of this combination among [`Self::COMBINATIONS`] (closed sets).
    fn index(&self) -> usize;
    /// The OpenTelemetry attributes of this combination.
    fn key_values(&self) -> Vec<KeyValue>;
    /// The attributes of the combination at `index` (closed sets).
    fn key_values_at(index: usize) -> Vec<KeyValue>;
}

impl Sealed for () {}

impl AttributeSet for () {
    const ATTRIBUTES: &'static [AttributeInfo] = &[];
    const CLOSED: bool = true;
    const COMBINATIONS: usize = 1;
    #[inline(always)]
    fn index(&self) -> usize {
        0
    }
    fn key_values(&self) -> Vec<KeyValue> {
        Vec::new()
    }
    fn key_values_at(_index: usize) -> Vec<KeyValue> {
        Vec::new()
    }
}

macro_rules! impl_attribute_set {
    ($($t:ident . $i:tt),+) => {
        impl<$($t: Attribute),+> Sealed for ($($t,)+) {}
        impl<$($t: Attribute),+> AttributeSet for ($($t,)+) {
            const ATTRIBUTES: &'static [AttributeInfo] = &[$($t::INFO),+];
            const CLOSED: bool = true $(&& $t::CLOSED)+;
            const COMBINATIONS: usize = 1 $(* $t::CARDINALITY)+;
            #[inline(always)]
            fn index(&self) -> usize {
                let mut index = 0;
                $( index = index * $t::CARDINALITY + self.$i.index(); )+
                index
            }
            fn key_values(&self) -> Vec<KeyValue> {
                [$(self.$i.key_value()),+].into_iter().flatten().collect()
            }
            #[allow(unused_assignments)]
            fn key_values_at(index: usize) -> Vec<KeyValue> {
                // Decode the mixed-radix index from the last attribute to the first.
                let mut rest = index;
                let mut reversed = Vec::with_capacity(Self::ATTRIBUTES.len());
                impl_attribute_set!(@decode rest reversed; $($t),+);
                reversed.reverse();
                reversed.into_iter().flatten().collect()
            }
        }
    };
    (@decode $rest:ident $out:ident; $head:ident $(, $tail:ident)*) => {
        impl_attribute_set!(@decode $rest $out; $($tail),*);
        $out.push($head::key_value_at($rest % $head::CARDINALITY));
        $rest /= $head::CARDINALITY;
    };
    (@decode $rest:ident $out:ident;) => {};
}

impl_attribute_set!(A.0);
impl_attribute_set!(A.0, B.1);
impl_attribute_set!(A.0, B.1, C.2);
impl_attribute_set!(A.0, B.1, C.2, D.3);

#[cfg(test)]
mod tests {
    use super::*;

    crate::attribute_enum! {
        /// Test colour.
        pub enum Colour: "test.colour" { Red => "red", Green => "green", Blue => "blue" }
    }
    crate::attribute_enum! {
        /// Test size.
        pub enum Size: "test.size" { Small => "small", Large => "large" }
    }

    #[test]
    fn mixed_radix_round_trip() {
        type Set = (Colour, Option<Size>);
        assert_eq!(Set::COMBINATIONS, 9);
        let mut seen = Vec::new();
        for c in Colour::ALL {
            for s in Size::ALL.iter().copied().map(Some).chain([None]) {
                let set = (*c, s);
                let index = set.index();
                assert_eq!(Set::key_values_at(index), set.key_values());
                seen.push(index);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..9).collect::<Vec<_>>());
        assert_eq!(
            (Colour::Red, None::<Size>).key_values(),
            [KeyValue::new("test.colour", "red")]
        );
    }

    crate::unbounded_attribute! {
        /// Test label.
        pub Label: "test.label", limit = 10
    }

    #[test]
    fn unbounded_values_are_truncated_on_char_boundaries() {
        let long = "é".repeat(200); // 400 bytes
        let value = Unbounded::<Label>::new(long);
        assert!(value.as_str().len() <= MAX_ATTRIBUTE_VALUE_LEN);
        assert!(value.as_str().chars().all(|c| c == 'é'));
        type Set = (Colour, Unbounded<Label>);
        const { assert!(!Set::CLOSED) };
        assert_eq!(Set::COMBINATIONS, 30);
    }
}
