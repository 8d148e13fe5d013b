//! The frame of the pages' bar charts (the activity log's actions per day, analytics' counts per
//! period): inline SVG 360 units wide, so its 12-unit text still reads on a phone (the
//! stylesheet caps it on a wide screen), a round top for the axis and three gridlines. Each page
//! draws its own bars and labels in it.
use crate::web::html::{Html, escape};

const W: f64 = 360.0;
const TOP: f64 = 10.0;

pub struct Frame {
    pub height: f64,
    /// Where the plot starts, after the axis' numbers.
    pub left: f64,
    pub plot_h: f64,
    /// The value at the top of the axis: 1, 2 or 5 × 10ⁿ, at least the largest bar.
    pub top_value: i64,
    /// The width given to each bar, and the bar's own.
    pub slot: f64,
    pub bar: f64,
    out: String,
}

impl Frame {
    /// Opens a chart of `bars` bars whose largest is `max`; `title` and `desc` are what a screen
    /// reader says of it (escaped here), under the element ids `ids`.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        height: f64,
        left: f64,
        bottom: f64,
        min_bar: f64,
        bars: usize,
        max: i64,
        ids: (&str, &str),
        title: &str,
        desc: &str,
    ) -> Frame {
        let plot_h = height - bottom - TOP;
        let max = max.max(1);
        let top_value = {
            let mut step = 1i64;
            loop {
                if let Some(t) = [step, step * 2, step * 5].into_iter().find(|t| *t >= max) {
                    break t;
                }
                step *= 10;
            }
        };
        let slot = (W - left - 4.0) / bars.max(1) as f64;
        let bar = (slot * 0.7).max(min_bar);
        let (title_id, desc_id) = ids;
        let out = format!(
            "<svg class=\"chart\" viewBox=\"0 0 {W} {height}\" width=\"100%\" role=\"img\" aria-labelledby=\"{title_id} {desc_id}\">\
             <title id=\"{title_id}\">{}</title><desc id=\"{desc_id}\">{}</desc>",
            escape(title),
            escape(desc)
        );
        Frame { height, left, plot_h, top_value, slot, bar, out }
    }

    /// Draws the gridlines at 0, half and the top, each with its value as `number` writes it.
    pub fn gridlines(&mut self, number: impl Fn(i64) -> String) {
        for frac in [0.0, 0.5, 1.0] {
            let y = TOP + self.plot_h * (1.0 - frac);
            let value = (self.top_value as f64 * frac).round() as i64;
            self.out.push_str(&format!(
                "<line x1=\"{}\" x2=\"{W}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#bbbbbb\" stroke-width=\"1\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#333333\">{}</text>",
                self.left,
                self.left - 4.0,
                y + 4.0,
                number(value)
            ));
        }
    }

    /// The left edge of bar `i`.
    #[must_use]
    pub fn bar_x(&self, i: usize) -> f64 {
        self.left + self.slot * i as f64 + (self.slot - self.bar) / 2.0
    }

    /// The middle of bar `i`'s slot.
    #[must_use]
    pub fn slot_middle(&self, i: usize) -> f64 {
        self.left + self.slot * i as f64 + self.slot / 2.0
    }

    /// The height of a bar of `value`.
    #[must_use]
    pub fn bar_height(&self, value: i64) -> f64 {
        self.plot_h * value as f64 / self.top_value as f64
    }

    /// Where the bars stand.
    #[must_use]
    pub fn baseline(&self) -> f64 {
        TOP + self.plot_h
    }

    /// A bar from `y`, `h` high, with its tooltip (escaped here).
    pub fn rect(&mut self, x: f64, y: f64, h: f64, fill: &str, tooltip: &str) {
        self.out.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{fill}\"><title>{}</title></rect>",
            self.bar,
            escape(tooltip)
        ));
    }

    /// A label under the bars, centred on `x`, `from_bottom` above the chart's bottom edge.
    pub fn label(&mut self, x: f64, from_bottom: f64, text: &str) {
        self.out.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#333333\">{}</text>",
            self.height - from_bottom,
            escape(text)
        ));
    }

    #[must_use]
    pub fn close(mut self) -> Html {
        self.out.push_str("</svg>");
        Html::escaped(self.out)
    }
}
