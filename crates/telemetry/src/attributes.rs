//! Typed attribute keys and values.
//!
//! A metric's attributes are a tuple type (`()`, `(A,)`, `(A, B)`, ...) whose elements
//! implement [`Attribute`]. Two kinds exist:
//!
//! - **closed** sets, Rust enums declared with [`attribute_enum!`](crate::attribute_enum):
//!   every combination is known up front, so instruments pre-bind one handle per combination
//!   and seed it at zero; recording is an index computation, never a hash;
//! - **unbounded** values ([`Unbounded`]), declared with
//!   [`unbounded_attribute!`](crate::unbounded_attribute) together with their cardinality
//!   limit. High-cardinality identifiers (`tx.hash`, `peer.id`, `block.number`, ...) are
//!   rejected at compile time by [`check_attribute_key`](crate::name::check_attribute_key).

use std::borrow::Cow;
use std::marker::PhantomData;

use opentelemetry::KeyValue;

/// What the registry knows about one attribute of a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttributeInfo {
    /// The attribute key, e.g. `rpc.method`.
    pub key: &'static str,
    /// The values it may take.
    pub values: AttributeValues,
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

/// One attribute type: a closed enum or an [`Unbounded`] value.
pub trait Attribute: Send + Sync + 'static {
    /// Key, allowed values and limit, for the registry and the generated docs.
    const INFO: AttributeInfo;
    /// Number of distinct values (variants, or the declared limit).
    const CARDINALITY: usize;
    /// Whether the values form a closed set (and can be pre-bound).
    const CLOSED: bool;
    /// Position of this value among [`Self::CARDINALITY`] (closed sets only; 0 otherwise).
    fn index(&self) -> usize;
    /// The OpenTelemetry attribute for this value.
    fn key_value(&self) -> KeyValue;
    /// The attribute for the value at `index` (closed sets only).
    fn key_value_at(index: usize) -> KeyValue;
}

/// Declares a closed attribute: an enum whose variants are the only values the attribute
/// can take on a metric.
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
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $key:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $value:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The attribute key.
            #[allow(dead_code)]
            pub const KEY: &'static str = $key;
            const VALUES: &'static [&'static str] = &[$($value),+];

            /// The attribute value as exported.
            pub const fn as_str(self) -> &'static str {
                Self::VALUES[self as usize]
            }
        }

        impl $crate::Attribute for $name {
            const INFO: $crate::AttributeInfo = {
                $crate::name::__expect_key($key);
                $crate::AttributeInfo { key: $key, values: $crate::AttributeValues::Closed(Self::VALUES) }
            };
            const CARDINALITY: usize = Self::VALUES.len();
            const CLOSED: bool = true;
            #[inline(always)]
            fn index(&self) -> usize {
                *self as usize
            }
            fn key_value(&self) -> $crate::__private::KeyValue {
                $crate::__private::KeyValue::new($key, self.as_str())
            }
            fn key_value_at(index: usize) -> $crate::__private::KeyValue {
                $crate::__private::KeyValue::new($key, Self::VALUES[index])
            }
        }
    };
}

/// Names an unbounded attribute key and its cardinality limit; used through [`Unbounded`].
pub trait UnboundedKey: Send + Sync + 'static {
    /// The attribute key.
    const KEY: &'static str;
    /// Distinct values a metric keeps before later ones fold into the overflow series.
    const LIMIT: usize;
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
/// let _ = <telemetry::Unbounded<TxHash> as telemetry::Attribute>::INFO;
/// ```
#[macro_export]
macro_rules! unbounded_attribute {
    ($(#[$meta:meta])* $vis:vis $name:ident : $key:literal, limit = $limit:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;
        impl $crate::UnboundedKey for $name {
            const KEY: &'static str = $key;
            const LIMIT: usize = $limit;
        }
    };
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

impl<K: UnboundedKey> Attribute for Unbounded<K> {
    const INFO: AttributeInfo = {
        crate::name::__expect_key(K::KEY);
        AttributeInfo {
            key: K::KEY,
            values: AttributeValues::Unbounded { limit: K::LIMIT },
        }
    };
    const CARDINALITY: usize = K::LIMIT;
    const CLOSED: bool = false;
    fn index(&self) -> usize {
        0
    }
    fn key_value(&self) -> KeyValue {
        KeyValue::new(K::KEY, self.value.clone())
    }
    fn key_value_at(_index: usize) -> KeyValue {
        unreachable!("unbounded attributes are never pre-bound")
    }
}

/// The full attribute set of a metric: `()` or a tuple of up to four [`Attribute`]s.
pub trait AttributeSet: Send + Sync + 'static {
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
                vec![$(self.$i.key_value()),+]
            }
            #[allow(unused_assignments)]
            fn key_values_at(index: usize) -> Vec<KeyValue> {
                // Decode the mixed-radix index from the last attribute to the first.
                let mut rest = index;
                let mut reversed = Vec::with_capacity(Self::ATTRIBUTES.len());
                impl_attribute_set!(@decode rest reversed; $($t),+);
                reversed.reverse();
                reversed
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
        type Set = (Colour, Size);
        assert_eq!(Set::COMBINATIONS, 6);
        let mut seen = Vec::new();
        for c in Colour::ALL {
            for s in Size::ALL {
                let set = (*c, *s);
                let index = set.index();
                assert_eq!(Set::key_values_at(index), set.key_values());
                seen.push(index);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
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
