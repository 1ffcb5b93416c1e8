//! The status page in a real browser: headless Chromium (Debian's) loads
//! `/_pipec/` from `pipec run`, the test sends requests, and reads from the
//! page's DOM that its figures moved without a reload; then a screenshot of
//! the page is decoded and checked for not being blank.
//!
//! The browser is driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: JSON messages ended by NUL on fds 3 and 4),
//! which needs no WebSocket client and no open debugging port.

mod common;

use base64::Engine;
use common::Pipec;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

struct Browser {
    child: Child,
    commands: std::io::PipeWriter,
    replies: BufReader<std::io::PipeReader>,
    next_id: u64,
    _profile: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped (Chromium's profile).
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Browser {
    /// `None` when Chromium is not installed and the test command did not
    /// ask for it (the test command installs it and sets
    /// `PIPEC_REQUIRE_BROWSER`).
    fn launch() -> Option<Browser> {
        if !std::path::Path::new(CHROMIUM).exists() {
            assert!(
                std::env::var_os("PIPEC_REQUIRE_BROWSER").is_none(),
                "PIPEC_REQUIRE_BROWSER is set but {CHROMIUM} is missing"
            );
            eprintln!("skipped: no {CHROMIUM} (apt-get install chromium)");
            return None;
        }
        let (command_reader, commands) = std::io::pipe().expect("a pipe");
        let (replies, reply_writer) = std::io::pipe().expect("a pipe");
        let profile = common::scratch("chromium-profile");
        let (read_fd, write_fd) = (command_reader.as_raw_fd(), reply_writer.as_raw_fd());
        let mut command = Command::new(CHROMIUM);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--no-first-run",
                "--remote-debugging-pipe",
                "--window-size=1400,520",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork
        // and exec. The pipes may already sit on fds 3 and 4, where dup2
        // would keep their close-on-exec flag: copy them above first.
        unsafe {
            command.pre_exec(move || {
                let read = libc::fcntl(read_fd, libc::F_DUPFD, 10);
                let write = libc::fcntl(write_fd, libc::F_DUPFD, 10);
                if read < 0 || write < 0 || libc::dup2(read, 3) < 0 || libc::dup2(write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        drop((command_reader, reply_writer));
        Some(Browser {
            child,
            commands,
            replies: BufReader::new(replies),
            next_id: 1,
            _profile: tempdir::Dir(profile),
        })
    }

    /// Sends one command (to a page when `session` is given) and returns its
    /// result, skipping the events the browser sends meanwhile.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .expect("chromium reads commands");
        loop {
            let mut reply = Vec::new();
            let read = self.replies.read_until(0, &mut reply).expect("a reply");
            assert!(read > 0, "chromium closed the pipe during {method}");
            reply.pop();
            let reply: Value = serde_json::from_slice(&reply).expect("JSON from chromium");
            if reply["id"] == id {
                assert!(reply["error"].is_null(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A page open in the browser.
struct Page<'b> {
    browser: &'b mut Browser,
    session: String,
}

impl Page<'_> {
    fn open<'b>(browser: &'b mut Browser, url: &str) -> Page<'b> {
        let target = browser.call(None, "Target.createTarget", json!({ "url": url }));
        let attached = browser.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let session = attached["sessionId"].as_str().unwrap().to_string();
        Page { browser, session }
    }

    fn eval(&mut self, expression: &str) -> Value {
        let result = self.browser.call(
            Some(&self.session),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    fn text(&mut self, element_id: &str) -> String {
        let value = self.eval(&format!(
            "(document.getElementById({element_id:?}) || {{}}).textContent || ''"
        ));
        value.as_str().unwrap_or_default().to_string()
    }

    /// Waits until the element's text satisfies `done`; its last text.
    fn wait_for(
        &mut self,
        element_id: &str,
        within: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.text(element_id);
            if done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "#{element_id} never got there; it reads {text:?} (problem: {:?})",
                self.text("problem")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn screenshot(&mut self) -> Vec<u8> {
        let shot = self.browser.call(
            Some(&self.session),
            "Page.captureScreenshot",
            json!({ "format": "png" }),
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("image data"))
            .expect("base64")
    }
}

/// The number in `text` just before `unit` (`"… 7 total"` → 7).
fn figure_before(text: &str, unit: &str) -> Option<u64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = words.iter().position(|w| *w == unit)?;
    words.get(at.checked_sub(1)?)?.replace(',', "").parse().ok()
}

#[test]
fn the_status_page_shows_counters_moving_in_a_real_browser() {
    let Some(mut browser) = Browser::launch() else {
        return;
    };
    let data = common::scratch("status-page");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start(&[
        "pipelines/game_events.pipe",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data_arg,
    ]);
    let url = format!("http://{}/_pipec/", pipec.addr);
    let mut page = Page::open(&mut browser, &url);

    // The first reading is on the page, before any request.
    page.wait_for("updated", Duration::from_secs(20), |t| {
        !t.is_empty() && t != "never"
    });
    let swords = page.text("live-endpoint_1-0");
    assert_eq!(figure_before(&swords, "total"), Some(0), "{swords}");
    assert_eq!(page.text("events-in"), "0");
    assert_eq!(page.text("health"), "all sinks up");

    for i in 0..7 {
        let host = format!("user{i}.comcast.com");
        let response = pipec.get("/purchase_a_sword", &[("Host", &host)]);
        assert_eq!(response.status, 200, "{}", response.text());
    }
    for _ in 0..2 {
        assert_eq!(pipec.get("/join_a_guild", &[]).status, 200);
    }

    // The same page, not reloaded, catches up on its own.
    let swords = page.wait_for("live-endpoint_1-0", Duration::from_secs(15), |t| {
        figure_before(t, "total") == Some(7)
    });
    let guilds = page.text("live-endpoint_2-0");
    assert_eq!(figure_before(&guilds, "total"), Some(2), "{guilds}");
    let topic = page.text("live-topic_0-0");
    assert_eq!(figure_before(&topic, "events"), Some(9), "{topic}");
    assert_eq!(page.text("events-in"), "9");
    // The sinks trigger every 10 s; then rows, files and the commit show.
    // The lag is measured just after a write, so it may show a refresh later
    // than the rows.
    let sink = page.wait_for("live-sink_0-0", Duration::from_secs(40), |t| {
        figure_before(t, "rows") == Some(7) && t.starts_with("lag 0")
    });
    assert_eq!(figure_before(&sink, "file"), Some(1), "{sink}");
    assert!(sink.starts_with("lag 0"), "{sink}");
    let commit = page.text("live-sink_0-1");
    assert!(
        commit.starts_with("commit ") && commit.contains("s ago"),
        "{commit}"
    );
    let table = page.wait_for("live-table_0-0", Duration::from_secs(5), |t| {
        figure_before(t, "rows") == Some(7)
    });
    assert!(table.contains("1 file"), "{table}");
    println!("status page: {swords} | {sink} | {commit}");

    // A screenshot that is a picture: many colours, mostly not background.
    let png = page.screenshot();
    let shot = data.join("status-page.png");
    std::fs::write(&shot, &png).unwrap();
    println!("screenshot: {}", shot.display());
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    let channels = frame.color_type.samples();
    let pixels = &pixels[..frame.buffer_size()];
    assert!(frame.width >= 1000 && frame.height >= 400, "{frame:?}");
    let mut colours = std::collections::HashMap::<&[u8], usize>::new();
    for pixel in pixels.chunks_exact(channels) {
        *colours.entry(pixel).or_default() += 1;
    }
    let total = (frame.width * frame.height) as usize;
    let background = colours.values().copied().max().unwrap_or(0);
    assert!(colours.len() > 50, "only {} colours", colours.len());
    assert!(
        background < total * 9 / 10,
        "{background} of {total} pixels are one colour"
    );
    drop(page);
    drop(browser);
    pipec.stop();
}
