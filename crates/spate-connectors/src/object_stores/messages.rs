//! Object-store errors in one readable line.
//!
//! S3 and Azure answer failures with an XML body (`<Error><Code>NoSuchBucket</Code>
//! <Message>...</Message><RequestId>...`) that object_store puts into its error text whole.
//! [`describe_store_error`] keeps what a person needs (the request, the status, the code and
//! the message) and drops the XML, request ids and host ids.

/// Shortens an error text that carries an S3/Azure XML error body; other texts come back
/// unchanged.
pub fn describe_store_error(text: &str) -> String {
    let Some(xml_start) = text.find("<?xml").or_else(|| text.find("<Error>")) else {
        return text.to_string();
    };
    let code = between(&text[xml_start..], "<Code>", "</Code>");
    let message = between(&text[xml_start..], "<Message>", "</Message>");
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
}
