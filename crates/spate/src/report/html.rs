//! The HTML page of a report: the report's JSON inside a `<script type="application/json">`
//! element, drawn by an inline script (`page.js`) with inline styles (`page.css`). The page
//! loads nothing from anywhere. A script error shows as an element `#report-error`; a
//! page drawn to its end has an element `#report-rendered`.

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Catches any later script error (a syntax error in the drawing script included) and
/// writes it into the page, where a person and a test see it.
const ERROR_HOOK: &str = "window.onerror = function (message, source, line) {\n\
    var e = document.createElement('div');\n\
    e.id = 'report-error';\n\
    e.textContent = 'report script error: ' + message + ' (line ' + line + ')';\n\
    document.body.insertBefore(e, document.body.firstChild);\n\
};\n";

/// The page of the report whose JSON is `json`.
pub(super) fn page(json: &str) -> String {
    let data = embeddable(json);
    let mut html = String::with_capacity(STYLE.len() + SCRIPT.len() + data.len() + 512);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str("<title>spate job report</title>\n<style>\n");
    html.push_str(STYLE);
    html.push_str("</style>\n</head>\n<body>\n<script>\n");
    html.push_str(ERROR_HOOK);
    html.push_str("</script>\n<main id=\"report\"></main>\n");
    html.push_str("<script type=\"application/json\" id=\"report-data\">");
    html.push_str(&data);
    html.push_str("</script>\n<script>\n");
    html.push_str(SCRIPT);
    html.push_str("</script>\n</body>\n</html>\n");
    html
}

/// `json` made safe inside a `<script>` element: `<` only occurs in JSON strings, where
/// `\u003c` means the same, so no `</script>` or `<!--` can end the element early.
fn embeddable(json: &str) -> String {
    json.replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_its_script_element() {
        let json = r#"{"origin":"</script><script>alert(1)</script>"}"#;
        let html = page(json);
        assert_eq!(html.matches("</script>").count(), 3, "only the page's own");
        let start = html.find("id=\"report-data\">").unwrap();
        let data = &html[start + 17..];
        let data = &data[..data.find("</script>").unwrap()];
        let back: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(back["origin"], "</script><script>alert(1)</script>");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let html = page("{}");
        for needle in [
            "src=", "href=", "http://", "https://", "@import", "url(http",
        ] {
            let hits: Vec<_> = html
                .match_indices(needle)
                .filter(|(i, _)| !html[*i..].starts_with("http://www.w3.org/2000/svg"))
                .collect();
            assert!(hits.is_empty(), "{needle} in the page");
        }
    }
}
