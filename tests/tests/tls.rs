//! The functions' HTTPS client (`shared::aws::https_client`: rustls on ring, Amazon Trust
//! Services roots only) verifies certificates: a loopback TLS server with a certificate
//! outside those roots is refused, while a client that trusts that certificate reaches the
//! same server — so the refusal is the trust decision, not a broken server.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::error::display::DisplayErrorContext;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use shared::aws::{TrustedRoots, https_client};

/// A TLS server on loopback with a fresh self-signed certificate for 127.0.0.1, answering
/// every request with an empty DynamoDB-style 400. Counts completed handshakes.
struct TlsServer {
    port: u16,
    cert_pem: String,
    handshakes: Arc<AtomicUsize>,
}

fn tls_server() -> TlsServer {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = cert.cert.pem();
    let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Ok(mut tls) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            // A refused certificate ends the handshake with an alert: an Err here.
            let mut established = false;
            while tls.is_handshaking() {
                if tls.complete_io(&mut stream).is_err() {
                    break;
                }
                established = !tls.is_handshaking();
            }
            if !established {
                continue;
            }
            counted.fetch_add(1, Ordering::SeqCst);
            let mut tls = rustls::StreamOwned::new(tls, stream);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body = r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"test server"}"#;
            let _ = write!(
                tls,
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.flush();
        }
    });
    TlsServer {
        port,
        cert_pem,
        handshakes,
    }
}

async fn list_tables(server: &TlsServer, http: SharedHttpClient) -> String {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(format!("https://127.0.0.1:{}", server.port))
        .http_client(http)
        .build();
    let outcome = aws_sdk_dynamodb::Client::from_conf(config)
        .list_tables()
        .send()
        .await;
    match outcome {
        Ok(_) => "ok".to_owned(),
        Err(e) => DisplayErrorContext(&e).to_string(),
    }
}

#[tokio::test]
async fn a_certificate_outside_the_amazon_roots_is_refused() {
    let server = tls_server();

    let refused = list_tables(&server, https_client(TrustedRoots::Amazon)).await;
    assert!(
        refused.contains("invalid peer certificate") || refused.contains("UnknownIssuer"),
        "expected a certificate error, got: {refused}"
    );
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 0);

    // The platform's roots do not include a fresh self-signed certificate either.
    let refused = list_tables(&server, https_client(TrustedRoots::AmazonAndNative)).await;
    assert!(refused.contains("certificate"), "got: {refused}");
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 0);

    // Control: a client that trusts this certificate gets through to the server's answer.
    let trusting = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(
            aws_smithy_http_client::tls::TlsContext::builder()
                .with_trust_store(
                    aws_smithy_http_client::tls::TrustStore::empty()
                        .with_pem_certificate(server.cert_pem.as_bytes()),
                )
                .build()
                .unwrap(),
        )
        .build_https();
    let answered = list_tables(&server, trusting).await;
    assert!(answered.contains("test server"), "got: {answered}");
    assert!(server.handshakes.load(Ordering::SeqCst) >= 1);
}
