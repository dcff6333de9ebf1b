//! A report as a PDF an MSP can send its client: A4 pages with the KPI
//! table (each figure beside its definition), a bar chart of incidents
//! opened per week, a line chart of availability per week and the
//! devices' availability, drawn as vector bars and lines. Built from plain
//! data ([`render`]), no I/O; text in the standard Helvetica fonts
//! (WinAnsi; characters outside Latin-1 print as `?`).

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};
use steward_incident::report::{Figures, date, number};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
/// The bars' colour (RGB 0-1): tests find the chart by it.
pub const BAR: (f32, f32, f32) = (0.0, 0.45, 0.85);
/// The availability line's colour.
pub const LINE: (f32, f32, f32) = (0.1, 0.6, 0.3);
/// Devices listed at most.
const MAX_DEVICES: usize = 40;

/// Latin-1 bytes for WinAnsi text (other characters as `?`, control
/// characters dropped).
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '–' | '—' | '−' => b'-',
            '÷' => 0xF7,
            c if (c as u32) < 0x100 => c as u8,
            _ => b'?',
        })
        .collect()
}

/// Splits text into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

struct Page {
    content: Content,
}

impl Page {
    fn new() -> Self {
        Self {
            content: Content::new(),
        }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let bytes = latin1(text);
        self.content
            .begin_text()
            .set_fill_rgb(0.1, 0.1, 0.1)
            .set_font(Name(if bold { b"F2" } else { b"F1" }), size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    fn rule(&mut self, x1: f32, y1: f32, x2: f32, y2: f32) {
        self.content
            .set_stroke_rgb(0.6, 0.6, 0.6)
            .set_line_width(0.5)
            .move_to(x1, y1)
            .line_to(x2, y2)
            .stroke();
    }

    /// Bars of `values` in the box (x, y, w, h), labelled below and
    /// valued above.
    fn bars(&mut self, (x, y, w, h): (f32, f32, f32, f32), values: &[(String, f64)]) {
        self.rule(x, y, x + w, y);
        self.rule(x, y, x, y + h);
        let max = values.iter().map(|v| v.1).fold(0.0, f64::max);
        let slot = w / values.len().max(1) as f32;
        for (i, (label, value)) in values.iter().enumerate() {
            let left = x + slot * i as f32 + slot * 0.2;
            let height = if max > 0.0 {
                (value / max) as f32 * (h - 14.0)
            } else {
                0.0
            };
            if height > 0.0 {
                self.content
                    .set_fill_rgb(BAR.0, BAR.1, BAR.2)
                    .rect(left, y, slot * 0.6, height)
                    .fill_nonzero();
            }
            self.text(left, y + height + 3.0, 8.0, false, &format!("{value}"));
            self.text(left, y - 10.0, 7.0, false, label);
        }
    }

    /// A line through `values` (ratios 0-1, None skipped) in the box,
    /// scaled from `floor` to 1.
    fn line(&mut self, (x, y, w, h): (f32, f32, f32, f32), values: &[(String, Option<f64>)]) {
        self.rule(x, y, x + w, y);
        self.rule(x, y, x, y + h);
        let floor = values
            .iter()
            .filter_map(|v| v.1)
            .fold(1.0f64, f64::min)
            .clamp(0.0, 0.99);
        self.text(
            x - 30.0,
            y - 3.0,
            7.0,
            false,
            &format!("{:.1}%", floor * 100.0),
        );
        self.text(x - 30.0, y + h - 3.0, 7.0, false, "100%");
        let slot = w / values.len().max(1) as f32;
        let point = |i: usize, v: f64| {
            (
                x + slot * (i as f32 + 0.5),
                y + ((v - floor) / (1.0 - floor)) as f32 * h,
            )
        };
        let mut started = false;
        self.content
            .set_stroke_rgb(LINE.0, LINE.1, LINE.2)
            .set_line_width(2.0);
        for (i, (_, v)) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            let (px, py) = point(i, *v);
            if started {
                self.content.line_to(px, py);
            } else {
                self.content.move_to(px, py);
                started = true;
            }
        }
        if started {
            self.content.stroke();
        }
        for (i, (label, v)) in values.iter().enumerate() {
            let px = x + slot * (i as f32 + 0.5);
            self.text(px - 12.0, y - 10.0, 7.0, false, label);
            if let Some(v) = v {
                let (_, py) = point(i, *v);
                self.text(
                    px - 12.0,
                    py + 4.0,
                    7.0,
                    false,
                    &format!("{:.2}%", v * 100.0),
                );
            }
        }
    }
}

/// The report as PDF bytes.
pub fn render(f: &Figures) -> Vec<u8> {
    let mut first = Page::new();
    let mut y = HEIGHT - MARGIN;
    first.text(MARGIN, y, 18.0, true, &format!("Service report: {}", f.org));
    y -= 20.0;
    first.text(
        MARGIN,
        y,
        10.0,
        false,
        &format!(
            "Period {} ({} to {}, UTC)",
            f.period,
            date(f.since),
            date(f.until)
        ),
    );
    y -= 24.0;
    if !f.has_data() {
        first.text(MARGIN, y, 12.0, true, "No data in this period.");
        y -= 22.0;
    }
    first.text(MARGIN, y, 12.0, true, "Key figures");
    y -= 16.0;
    for (_, name, value, definition) in &f.kpis {
        first.text(MARGIN, y, 10.0, true, name);
        first.text(
            MARGIN + 200.0,
            y,
            10.0,
            false,
            if value.is_empty() { "no data" } else { value },
        );
        y -= 11.0;
        for line in wrap(definition, 110) {
            first.text(MARGIN + 10.0, y, 7.0, false, &line);
            y -= 9.0;
        }
        y -= 4.0;
    }
    y -= 10.0;
    first.text(MARGIN, y, 12.0, true, "Incidents opened per week");
    let weeks: Vec<(String, f64)> = f
        .weeks
        .iter()
        .map(|w| (date(w.0)[5..].to_string(), w.1 as f64))
        .collect();
    let chart_top = y - 10.0;
    let chart_bottom = (chart_top - 150.0).max(MARGIN + 10.0);
    first.bars(
        (
            MARGIN,
            chart_bottom,
            WIDTH - 2.0 * MARGIN,
            chart_top - chart_bottom,
        ),
        &weeks,
    );

    let mut second = Page::new();
    let mut y = HEIGHT - MARGIN;
    second.text(MARGIN, y, 12.0, true, "Availability per week");
    let availability: Vec<(String, Option<f64>)> = f
        .weeks
        .iter()
        .map(|w| (date(w.0)[5..].to_string(), w.2))
        .collect();
    second.line(
        (MARGIN + 30.0, y - 170.0, WIDTH - 2.0 * MARGIN - 30.0, 150.0),
        &availability,
    );
    y -= 200.0;
    second.text(MARGIN, y, 12.0, true, "Devices");
    y -= 16.0;
    if f.devices.is_empty() {
        second.text(MARGIN, y, 10.0, false, "No devices in this period.");
    }
    for (name, ratio, downtime) in f.devices.iter().take(MAX_DEVICES) {
        second.text(MARGIN, y, 9.0, false, name);
        second.text(
            MARGIN + 250.0,
            y,
            9.0,
            false,
            &match ratio {
                Some(_) => format!("{} %", number(ratio.map(|r| r * 100.0), 3)),
                None => "no data".into(),
            },
        );
        second.text(
            MARGIN + 350.0,
            y,
            9.0,
            false,
            &format!("{:.1} min offline", *downtime as f64 / 60_000.0),
        );
        y -= 12.0;
    }
    if f.devices.len() > MAX_DEVICES {
        second.text(
            MARGIN,
            y,
            9.0,
            false,
            &format!("… and {} more (see the CSV)", f.devices.len() - MAX_DEVICES),
        );
    }

    let (catalog, tree, regular, bold) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    let pages = [first, second];
    let ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(5 + 2 * i as i32))
        .collect();
    pdf.pages(tree)
        .kids(ids.iter().copied())
        .count(pages.len() as i32);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for (page, id) in pages.into_iter().zip(&ids) {
        let content = Ref::new(id.get() + 1);
        {
            let mut writer = pdf.page(*id);
            writer
                .media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
                .parent(tree)
                .contents(content);
            writer
                .resources()
                .fonts()
                .pair(Name(b"F1"), regular)
                .pair(Name(b"F2"), bold);
        }
        pdf.stream(content, &page.content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_latin1_and_wrapped_at_spaces() {
        assert_eq!(
            latin1("Café – 100 % ÷ x\u{7}ok ☃"),
            b"Caf\xe9 - 100 % \xf7 xok ?"
        );
        assert_eq!(
            wrap("one two three four", 9),
            vec!["one two", "three", "four"]
        );
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn a_report_renders_to_a_pdf_with_and_without_data() {
        let mut figures = Figures {
            org: "Client (B)".into(),
            period: "2026-11".into(),
            since: 0,
            until: 7 * 86_400_000,
            kpis: vec![(
                "mttr".into(),
                "MTTR (median)".into(),
                String::new(),
                "time".into(),
            )],
            weeks: vec![(0, 0, None, None)],
            devices: vec![],
        };
        let empty = render(&figures);
        assert!(empty.starts_with(b"%PDF-"));
        assert!(empty.windows(7).any(|w| w == b"no data"));
        figures.weeks = vec![(0, 4, Some(0.995), Some(60_000.0))];
        figures.devices = vec![("web-1".into(), Some(0.995), 60_000)];
        let full = render(&figures);
        assert!(full.windows(5).any(|w| w == b"web-1"));
        assert!(full.windows(10).any(|w| w == b"Client (B)"));
    }
}
