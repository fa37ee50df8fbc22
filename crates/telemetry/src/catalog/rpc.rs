//! The RPC component: an HTTP JSON API.

crate::attribute_enum! {
    /// Which RPC method a request called.
    pub enum RpcMethod: "rpc.method" {
        /// Submit a transaction.
        SubmitTransaction => "submit_transaction",
        /// Read node status.
        GetStatus => "get_status",
        /// Read the chain height.
        GetHeight => "get_height",
        /// A path the API does not serve.
        Unknown => "unknown",
    }
}

crate::attribute_enum! {
    /// HTTP status class of a response.
    pub enum StatusClass: "http.response.status_class" {
        /// 2xx.
        Success => "2xx",
        /// 4xx.
        ClientError => "4xx",
        /// 5xx.
        ServerError => "5xx",
    }
}

crate::attribute_enum! {
    /// Why a request failed.
    pub enum RpcErrorKind: "rpc.error.kind" {
        /// The body was not a valid request.
        Malformed => "malformed",
        /// The mempool refused the transaction.
        Rejected => "rejected",
        /// The body exceeded the size limit.
        TooLarge => "too_large",
        /// No such method.
        NotFound => "not_found",
        /// The node failed internally.
        Internal => "internal",
    }
}

crate::metrics! {
    /// RPC requests answered, by method and status class.
    pub REQUESTS: Counter<u64, (RpcMethod, StatusClass)> = "node.rpc.requests", "{request}";
    /// RPC requests that failed, by method and error kind.
    pub ERRORS: Counter<u64, (RpcMethod, RpcErrorKind)> = "node.rpc.errors", "{request}";
    /// Time to answer one RPC request.
    pub REQUEST_DURATION: Histogram<f64, (RpcMethod,)> = "node.rpc.request.duration", "s";
    /// RPC requests being processed.
    pub IN_FLIGHT: UpDownCounter<i64, ()> = "node.rpc.in_flight", "{request}";
}
