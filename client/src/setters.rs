//! The setters the token builders share ([`crate::TokenUpdate`], [`crate::DesiredToken`], [`crate::NewToken`]),
//! written once. A macro rather than a shared settings type, because each builder keeps its own public setter
//! names and documents them in its own words (an update *sets*, a desired state is *compared*), and because the
//! builders differ in what a setter does besides storing: an update refuses to mix scope kinds, a new token forgives
//! an earlier refusal of the field it sets.
//!
//! Each builder invokes [`token_setters!`] inside an `impl` block with the setters it has, each with its doc:
//! - `scope_names(store);` and `#[deprecated(note = "..")] scope_ids(store);` hand the [`crate::Scopes`] to the
//!   builder's own `fn store(self, Scopes) -> Self`;
//! - `ips_whitelist;` and `expires_at;` store the field of that name, then, written `ips_whitelist then after;`,
//!   call the builder's `fn after(&mut self, field: &str)` with the API's field name;
//! - `expires_in;` is `expires_at(now + after)`, or the builder's `fn refuse(&mut self, InvalidInput)` when that
//!   date cannot be represented.

/// Writes the setters listed (see the module's doc).
macro_rules! token_setters {
    () => {};
    ($(#[doc = $doc:literal])* scope_names($store:ident); $($rest:tt)*) => {
        $(#[doc = $doc])*
        pub fn scope_names<I, S>(self, names: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.$store($crate::update::Scopes::Names(names.into_iter().map(Into::into).collect()))
        }
        $crate::setters::token_setters! { $($rest)* }
    };
    ($(#[doc = $doc:literal])* #[deprecated(note = $note:literal)] scope_ids($store:ident); $($rest:tt)*) => {
        $(#[doc = $doc])*
        #[deprecated(note = $note)]
        #[allow(deprecated)]
        pub fn scope_ids(self, ids: impl IntoIterator<Item = i32>) -> Self {
            self.$store($crate::update::Scopes::Ids(ids.into_iter().collect()))
        }
        $crate::setters::token_setters! { $($rest)* }
    };
    ($(#[doc = $doc:literal])* ips_whitelist $(then $after:ident)?; $($rest:tt)*) => {
        $(#[doc = $doc])*
        pub fn ips_whitelist(mut self, ips: impl IntoIterator<Item = std::net::Ipv4Addr>) -> Self {
            self.ips_whitelist = Some(ips.into_iter().collect());
            $(self.$after("ipsWhitelist");)?
            self
        }
        $crate::setters::token_setters! { $($rest)* }
    };
    ($(#[doc = $doc:literal])* expires_at $(then $after:ident)?; $($rest:tt)*) => {
        $(#[doc = $doc])*
        pub fn expires_at(mut self, at: impl Into<::chrono::DateTime<::chrono::Utc>>) -> Self {
            self.expires_at = Some(at.into());
            $(self.$after("expiresAt");)?
            self
        }
        $crate::setters::token_setters! { $($rest)* }
    };
    ($(#[doc = $doc:literal])* expires_in; $($rest:tt)*) => {
        $(#[doc = $doc])*
        pub fn expires_in(mut self, after: std::time::Duration) -> Self {
            match $crate::expiry::from_now(after) {
                Ok(at) => self.expires_at(at),
                Err(refused) => {
                    self.refuse(refused);
                    self
                }
            }
        }
        $crate::setters::token_setters! { $($rest)* }
    };
}

pub(crate) use token_setters;
