//! The scope names eToro documents today.
//!
//! They are a convenience, not a whitelist: any well-formed name is accepted and the server decides what is
//! allowed (eToro's own text uses both the `trade.real` and the older `real` forms).

/// Read the real-money trading account.
pub const TRADE_REAL_READ: &str = "etoro-public:trade.real:read";
/// Trade on the real-money account.
pub const TRADE_REAL_WRITE: &str = "etoro-public:trade.real:write";
/// Read the demo trading account.
pub const TRADE_DEMO_READ: &str = "etoro-public:trade.demo:read";
/// Trade on the demo account.
pub const TRADE_DEMO_WRITE: &str = "etoro-public:trade.demo:write";

/// Older form of [`TRADE_REAL_READ`] that still appears in eToro's descriptions (scope id 200).
pub const REAL_READ: &str = "etoro-public:real:read";
/// Older form of [`TRADE_DEMO_READ`] (scope id 201).
pub const DEMO_READ: &str = "etoro-public:demo:read";
/// Older form of [`TRADE_REAL_WRITE`] (scope id 202).
pub const REAL_WRITE: &str = "etoro-public:real:write";
/// Older form of [`TRADE_DEMO_WRITE`] (scope id 203).
pub const DEMO_WRITE: &str = "etoro-public:demo:write";
