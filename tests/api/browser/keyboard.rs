//! The keyboard alone: Tab to move, Enter and Space to act, typing into the
//! focused field. Every stop the focus makes must show a focus ring.

use fantoccini::Client;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde::Deserialize;

/// The most Tab presses any action may take.
const MAX_TABS: usize = 60;

/// Where the keyboard focus is, as the page reports it.
#[derive(Debug, Deserialize)]
pub struct Focused {
    pub tag: String,
    pub id: String,
    /// What a reader is told it is: its label, or its text.
    pub name: String,
    /// Whether the browser draws its focus ring (`:focus-visible`) and the
    /// stylesheet gives that ring a visible outline.
    pub ring: bool,
    /// Whether it lies within the window, where the reader can see it.
    pub on_screen: bool,
}

impl std::fmt::Display for Focused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.id.is_empty() {
            write!(f, "<{}> {:?}", self.tag, self.name)
        } else {
            write!(f, "<{}#{}> {:?}", self.tag, self.id, self.name)
        }
    }
}

/// Presses and releases `key` wherever the focus is.
pub async fn press(client: &Client, key: Key) {
    let keys = KeyActions::new("keyboard".to_string())
        .then(KeyAction::Down { value: key.into() })
        .then(KeyAction::Up { value: key.into() });
    client
        .perform_actions(keys)
        .await
        .unwrap_or_else(|error| panic!("pressing {key:?}: {error}"));
}

/// Types `text` into the focused field.
pub async fn type_text(client: &Client, text: &str) {
    let field = client.active_element().await.expect("a focused element");
    field
        .send_keys(text)
        .await
        .unwrap_or_else(|error| panic!("typing {text:?}: {error}"));
}

/// The element holding the focus, or `None` when nothing does.
pub async fn focused(client: &Client) -> Option<Focused> {
    let found = client
        .execute(
            r#"const element = document.activeElement;
               if (!element || element === document.body || element === document.documentElement) return null;
               const style = getComputedStyle(element);
               const box = element.getBoundingClientRect();
               const label = element.labels && element.labels.length ? element.labels[0].innerText : "";
               return {
                 tag: element.tagName.toLowerCase(),
                 id: element.id,
                 name: (label || element.getAttribute("aria-label") || element.innerText || element.value || "").trim().replace(/\s+/g, " "),
                 ring: element.matches(":focus-visible") && style.outlineStyle !== "none"
                   && parseFloat(style.outlineWidth) >= 2,
                 on_screen: box.width > 1 && box.height > 1 && box.bottom > 0 && box.right > 0
                   && box.top < window.innerHeight && box.left < window.innerWidth,
               };"#,
            vec![],
        )
        .await
        .expect("asking the page where the focus is");
    serde_json::from_value(found).expect("a description of the focused element")
}

/// Presses Tab until the focus reaches the element `wanted` accepts, checking
/// that each stop on the way can be seen; fails listing the stops.
pub async fn tab_to(client: &Client, what: &str, wanted: impl Fn(&Focused) -> bool) -> Focused {
    let mut stops = Vec::new();
    for _ in 0..MAX_TABS {
        press(client, Key::Tab).await;
        let Some(now) = focused(client).await else {
            stops.push("(nothing: past the end of the page)".to_string());
            continue;
        };
        assert!(
            now.ring && now.on_screen,
            "Tab moved the focus to {now}, which does not show it (focus ring drawn: {}, on screen: {}); stops so far: {}",
            now.ring,
            now.on_screen,
            stops.join(" → ")
        );
        if wanted(&now) {
            return now;
        }
        stops.push(now.to_string());
    }
    let url = client
        .current_url()
        .await
        .map(|url| url.to_string())
        .unwrap_or_default();
    panic!(
        "{MAX_TABS} presses of Tab on {url} never reached {what}; the focus went: {}",
        stops.join(" → ")
    );
}

/// Tabs to the link or button that reads `name`.
pub async fn tab_to_control(client: &Client, name: &str) -> Focused {
    tab_to(client, &format!("the control {name:?}"), |now| {
        matches!(now.tag.as_str(), "a" | "button") && now.name == name
    })
    .await
}

/// Tabs to the form field with id `id`.
pub async fn tab_to_field(client: &Client, id: &str) -> Focused {
    tab_to(client, &format!("the field #{id}"), |now| now.id == id).await
}

/// Presses Tab once: the next field must be `id` (a form's fields follow
/// one another).
pub async fn next_field(client: &Client, id: &str) {
    press(client, Key::Tab).await;
    let now = focused(client).await;
    assert!(
        now.as_ref().is_some_and(|now| now.id == id && now.ring),
        "Tab should move from field to field, to #{id} with a focus ring, but reached {}",
        now.map(|now| now.to_string())
            .unwrap_or_else(|| "nothing".to_string())
    );
}
