//! Object-store errors in one readable line.
//!
//! S3 and Azure answer failures with an XML body (`<Error><Code>NoSuchBucket</Code>
//! <Message>...</Message><RequestId>...`) that object_store puts into its error text whole.
//! [`describe_store_error`] keeps what a person needs (the request, the status, the code and
//! the message) and drops the XML, request ids and host ids, and blanks any signature or
//! token a URL in the text carries. [`store_error_message`] adds the root cause that
//! object_store's own text leaves out ("error sending request" says nothing of a refused
//! connection or a timeout).

use std::error::Error;

/// Query parameters that carry credentials in signed URLs (S3 presigned, Azure SAS, GCS
/// signed URLs); their values never reach a message.
const SECRET_PARAMS: [&str; 7] = [
    "sig=",
    "signature=",
    "x-amz-signature=",
    "x-amz-credential=",
    "x-amz-security-token=",
    "x-goog-signature=",
    "x-goog-credential=",
];

/// The text of an object-store error with its deepest cause, in one readable line.
pub fn store_error_message(err: &(dyn Error + 'static)) -> String {
    let text = err.to_string();
    let mut root = None;
    let mut next = err.source();
    while let Some(e) = next {
        root = Some(e.to_string());
        next = e.source();
    }
    let text = match root {
        Some(cause) if !cause.is_empty() && !text.contains(&cause) => {
            format!("{}: {cause}", text.trim_end())
        }
        _ => text,
    };
    describe_store_error(&text)
}

/// Shortens an error text that carries an S3/Azure XML error body; other texts come back
/// unchanged.
pub fn describe_store_error(text: &str) -> String {
    redact_signatures(&shorten_xml(text))
}

fn shorten_xml(text: &str) -> String {
    let Some(xml_start) = text.find("<?xml").or_else(|| text.find("<Error>")) else {
        return text.to_string();
    };
    let code = between(&text[xml_start..], "<Code>", "</Code>");
    // Azure appends "RequestId:... Time:..." to its messages.
    let message = between(&text[xml_start..], "<Message>", "</Message>")
        .map(|m| m.split("RequestId:").next().unwrap_or(m).trim());
    let head = text[..xml_start]
        .trim_end()
        .trim_end_matches(':')
        .trim_end();
    match (code, message) {
        (Some(code), Some(message)) => format!("{head}: {code}: {message}"),
        (Some(code), None) => format!("{head}: {code}"),
        _ => head.to_string(),
    }
}

/// Blanks the values of [`SECRET_PARAMS`] in `text`.
fn redact_signatures(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    for param in SECRET_PARAMS {
        let mut from = 0;
        while let Some(found) = lower[from..].find(param) {
            let start = from + found + param.len();
            let at_boundary = start - param.len() == 0
                || matches!(lower.as_bytes()[start - param.len() - 1], b'?' | b'&');
            let end = lower[start..]
                .find(|c: char| c == '&' || c == ')' || c == '"' || c.is_whitespace())
                .map_or(lower.len(), |n| start + n);
            if at_boundary {
                cuts.push((start, end));
            }
            from = end.max(start);
        }
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in cuts {
        if start < last {
            continue;
        }
        out.push_str(&text[last..start]);
        out.push_str("REDACTED");
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_code_and_message_drops_the_rest() {
        let raw = "Generic S3 error: Error performing GET http://127.0.0.1:5599/nobucket?list-type=2 in 28ms - \
                   Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\" encoding=\"utf-8\"?> \
                   <Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>\
                   <BucketName>nobucket</BucketName><RequestId>abc</RequestId><HostId>xyz</HostId></Error>";
        assert_eq!(
            describe_store_error(raw),
            "Generic S3 error: Error performing GET http://127.0.0.1:5599/nobucket?list-type=2 in 28ms - \
             Server returned non-2xx status code: 404 Not Found: NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(describe_store_error("plain"), "plain");
    }

    #[test]
    fn drops_azure_request_ids_and_blanks_signatures() {
        let raw = "Error performing GET http://h/c?restype=container&sig=SECRET%2Bx&sv=1 in 3ms - \
                   403 Forbidden: <?xml version=\"1.0\"?><Error><Code>AuthorizationFailure</Code>\
                   <Message>Server failed. RequestId:abc Time:2026</Message></Error>";
        let shown = describe_store_error(raw);
        assert_eq!(
            shown,
            "Error performing GET http://h/c?restype=container&sig=REDACTED&sv=1 in 3ms - \
             403 Forbidden: AuthorizationFailure: Server failed."
        );
        let presigned =
            "GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F&X-Amz-Signature=abc failed";
        assert_eq!(
            describe_store_error(presigned),
            "GET https://b.s3.amazonaws.com/k?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED failed"
        );
    }

    #[test]
    fn adds_the_root_cause() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("HTTP error: error sending request")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = Outer(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "operation timed out",
        ));
        assert_eq!(
            store_error_message(&err),
            "HTTP error: error sending request: operation timed out"
        );
    }
}
