//! The TLS backend of the client's own `reqwest::Client`, chosen by the crate's features.
//!
//! - `rustls` (default): rustls with the ring crypto provider; `rustls-aws-lc-rs`: with aws-lc-rs. Either way a
//!   provider the process installed as rustls' default (`CryptoProvider::install_default`) wins, and the roots come
//!   from the platform's verifier. The configuration is handed to reqwest ready-made rather than installed as the
//!   process default: a library must not change what the rest of the process gets from rustls.
//! - `native-tls`: the platform's TLS library. It wins when a rustls feature is on too (reqwest's own rule), so
//!   that a service that asked for native-tls gets it whatever else feature unification turned on.
//! - none of them: plain http only (loopback), and an `https` base URL is refused by name.

use reqwest::ClientBuilder;

/// Sets the TLS backend on the builder of the client's own `reqwest::Client`.
///
/// `https` is false for a loopback base URL over plain http, where no TLS is ever used: then no root certificate
/// is loaded (loading the system's roots is most of a one-shot command's start-up). An `Err` is the rule broken,
/// for the `base_url` setting.
pub(crate) fn configure(builder: ClientBuilder, https: bool) -> Result<ClientBuilder, String> {
    #[cfg(feature = "native-tls")]
    {
        Ok(if https {
            builder.tls_backend_native().https_only(true)
        } else {
            builder.tls_certs_only([])
        })
    }
    #[cfg(all(feature = "__rustls", not(feature = "native-tls")))]
    {
        let config = rustls_config(https)?;
        let builder = builder.tls_backend_preconfigured(config);
        Ok(if https { builder.https_only(true) } else { builder })
    }
    #[cfg(not(any(feature = "__rustls", feature = "native-tls")))]
    {
        if https {
            Err(
                "is https, but etoro-client was built without a TLS backend: enable its `rustls` (default), \
                 `rustls-aws-lc-rs` or `native-tls` feature"
                    .to_owned(),
            )
        } else {
            Ok(builder)
        }
    }
}

/// rustls' client configuration: the process's default crypto provider, else the one the features name; the
/// platform's verifier for https, no roots at all for plain http; ALPN as reqwest would set it.
#[cfg(all(feature = "__rustls", not(feature = "native-tls")))]
fn rustls_config(https: bool) -> Result<rustls::ClientConfig, String> {
    use std::sync::Arc;

    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(provider()));
    let versions = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("has no TLS version the crypto provider supports ({err})"))?;
    let mut config = if https {
        let verifier = rustls_platform_verifier::Verifier::new(provider)
            .map_err(|err| format!("needs the system's root certificates, which cannot be read ({err})"))?;
        versions
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        versions
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The crypto provider the features name: ring for `rustls`, aws-lc-rs for `rustls-aws-lc-rs` alone.
#[cfg(all(feature = "rustls", not(feature = "native-tls")))]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The crypto provider the features name: ring for `rustls`, aws-lc-rs for `rustls-aws-lc-rs` alone.
#[cfg(all(feature = "rustls-aws-lc-rs", not(feature = "rustls"), not(feature = "native-tls")))]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_builds_with_every_backend() {
        let builder = configure(reqwest::Client::builder(), false).unwrap();
        builder.build().unwrap();
    }

    #[cfg(any(feature = "__rustls", feature = "native-tls"))]
    #[test]
    fn https_builds_with_a_backend() {
        let builder = configure(reqwest::Client::builder(), true).unwrap();
        builder.build().unwrap();
    }

    #[cfg(not(any(feature = "__rustls", feature = "native-tls")))]
    #[test]
    fn https_without_a_backend_names_the_features() {
        let rule = configure(reqwest::Client::builder(), true).unwrap_err();
        assert!(
            rule.contains("without a TLS backend") && rule.contains("`rustls`"),
            "{rule}"
        );
    }

    #[cfg(all(feature = "__rustls", not(feature = "native-tls")))]
    #[test]
    fn rustls_offers_http2_and_http1() {
        let config = rustls_config(false).unwrap();
        assert_eq!(config.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    }
}
