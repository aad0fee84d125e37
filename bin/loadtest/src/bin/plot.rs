//! `coinjecture-bench-plot RESULTS.json OUT.png [--font FILE.ttf]`: draws a `bench/run.sh` result
//! file as two panels, offered vs. sustained final TPS (with the ideal y = x and the ed25519
//! bound) and offered vs. submit→final latency p50/p99, ours and, for an `--anchor` run,
//! CometBFT's kvstore and kvstore + ed25519 on the same axes. The font is read at run time (the plot needs one for its labels);
//! by default a common system font.

use std::path::PathBuf;

use eyre::{WrapErr as _, bail, eyre};
use plotters::prelude::*;

const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// One rate of a bench run: (offered, sustained final TPS, p50 s, p99 s).
type Point = (f64, f64, Option<f64>, Option<f64>);

/// One line on the chart: ours, or a CometBFT variant.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: &'static str,
    points: Vec<Point>,
}

fn points_of(runs: &[serde_json::Value]) -> eyre::Result<Vec<Point>> {
    runs.iter()
        .map(|r| {
            let offered = r["offered_tps"].as_f64().ok_or_else(|| eyre!("run without offered_tps"))?;
            let sustained = r["sustained_final_tps"].as_f64().unwrap_or(0.0);
            Ok((offered, sustained, r["latency"]["p50"].as_f64(), r["latency"]["p99"].as_f64()))
        })
        .collect()
}

/// Ours (`runs`) and, when the result has them, CometBFT's (`anchor.kvstore`, `anchor.signed`).
fn series(doc: &serde_json::Value) -> eyre::Result<Vec<Series>> {
    let runs = doc["runs"].as_array().ok_or_else(|| eyre!("no \"runs\" array"))?;
    let mut out = vec![Series { name: "ours", points: points_of(runs)? }];
    for (key, name) in [("kvstore", "CometBFT kvstore"), ("signed", "CometBFT kvstore + ed25519")] {
        if let Some(runs) = doc["anchor"][key].as_array().filter(|r| !r.is_empty()) {
            out.push(Series { name, points: points_of(runs)? });
        }
    }
    Ok(out)
}

fn main() -> eyre::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        bail!("usage: coinjecture-bench-plot RESULTS.json OUT.png [--font FILE.ttf]");
    };
    let font = match (args.next().as_deref(), args.next()) {
        (Some("--font"), Some(f)) => PathBuf::from(f),
        _ => {
            FONTS.iter().map(PathBuf::from).find(|p| p.exists()).ok_or_else(|| eyre!("no system font; pass --font"))?
        }
    };
    let bytes: &'static [u8] =
        Box::leak(std::fs::read(&font).wrap_err_with(|| format!("reading {}", font.display()))?.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| eyre!("{}: not a usable font", font.display()))?;

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&input).wrap_err_with(|| format!("reading {input}"))?)?;
    let series = series(&doc)?;
    if series.iter().all(|s| s.points.is_empty()) {
        bail!("{input}: no runs");
    }
    draw(&series, doc["bound_tps"].as_f64(), &output).map_err(|e| eyre!("drawing {output}: {e}"))?;
    println!("wrote {output}");
    Ok(())
}

const COLORS: [RGBColor; 3] = [BLUE, RGBColor(230, 120, 0), RGBColor(150, 0, 150)];

fn draw(series: &[Series], bound: Option<f64>, output: &str) -> Result<(), Box<dyn std::error::Error>> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let max_offered = all().map(|p| p.0).chain(bound).fold(1.0, f64::max) * 1.5;
    // One range for both log axes (the ideal line stays the diagonal), low enough for a final
    // rate far below the lowest offered one.
    let min_offered =
        all().map(|p| p.0).chain(all().map(|p| p.1).filter(|v| *v > 0.0)).fold(f64::INFINITY, f64::min).max(1.0) / 1.5;
    let root = BitMapBackend::new(output, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));

    let mut tps = ChartBuilder::on(&panels[0])
        .caption("offered vs. sustained final TPS", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d((min_offered..max_offered).log_scale(), (min_offered..max_offered).log_scale())?;
    tps.configure_mesh().x_desc("offered tx/s").y_desc("final tx/s").draw()?;
    tps.draw_series(LineSeries::new([(min_offered, min_offered), (max_offered, max_offered)], BLACK.mix(0.3)))?
        .label("ideal (final = offered)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.3)));
    if let Some(b) = bound {
        tps.draw_series(LineSeries::new([(min_offered, b), (max_offered, b)], RED.mix(0.5)))?
            .label(format!("ed25519 bound ({b:.0}/s: all cores ÷ validators)"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.mix(0.5)));
    }
    for (s, color) in series.iter().zip(COLORS) {
        let points: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1.max(min_offered))).collect();
        tps.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(s.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        tps.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    tps.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let max_latency = all().filter_map(|p| p.3.or(p.2)).fold(1.0, f64::max) * 1.2;
    let mut latency = ChartBuilder::on(&panels[1])
        .caption("submit → final latency (p50 dashed, p99 solid)", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d((min_offered..max_offered).log_scale(), 0.0..max_latency)?;
    latency.configure_mesh().x_desc("offered tx/s").y_desc("seconds").draw()?;
    for (s, color) in series.iter().zip(COLORS) {
        let p99: Vec<(f64, f64)> = s.points.iter().filter_map(|p| Some((p.0, p.3?))).collect();
        let p50: Vec<(f64, f64)> = s.points.iter().filter_map(|p| Some((p.0, p.2?))).collect();
        latency
            .draw_series(LineSeries::new(p99.clone(), color.stroke_width(2)))?
            .label(format!("{} p99", s.name))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        latency.draw_series(p99.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        latency.draw_series(DashedLineSeries::new(p50, 6, 4, color.stroke_width(1)))?;
    }
    latency
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn reads_the_runs_of_a_bench_result() {
        let doc = serde_json::json!({"runs": [
            {"offered_tps": 100.0, "sustained_final_tps": 99.5, "latency": {"p50": 1.0, "p99": 2.0}},
            {"offered_tps": 1000.0, "sustained_final_tps": 990.0, "latency": {"p50": null, "p99": null}},
        ]});
        let s = series(&doc).unwrap();
        assert_eq!(s.len(), 1, "no anchor, one series");
        assert_eq!(s[0].points, vec![(100.0, 99.5, Some(1.0), Some(2.0)), (1000.0, 990.0, None, None)]);
        assert!(series(&serde_json::json!({})).is_err());
    }

    #[test]
    fn the_anchor_variants_are_series_beside_ours() {
        let run = |offered: f64, tps: f64| serde_json::json!({"offered_tps": offered, "sustained_final_tps": tps, "latency": {"p50": 1.0, "p99": 3.0}});
        let doc = serde_json::json!({
            "runs": [run(1000.0, 998.0)],
            "anchor": {"cometbft": "v0.38.26", "kvstore": [run(1000.0, 990.0)], "signed": []},
        });
        let s = series(&doc).unwrap();
        assert_eq!(
            s.iter().map(|s| s.name).collect::<Vec<_>>(),
            ["ours", "CometBFT kvstore"],
            "an empty variant is left out"
        );
        assert_eq!(s[1].points, vec![(1000.0, 990.0, Some(1.0), Some(3.0))]);
        let out = std::env::temp_dir().join(format!("coinjecture-plot-test-{}.png", std::process::id()));
        let font = FONTS.iter().find(|p| std::path::Path::new(p).exists());
        if let Some(font) = font {
            let bytes: &'static [u8] = Box::leak(std::fs::read(font).unwrap().into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| "font").unwrap();
            draw(&s, Some(8_000.0), out.to_str().unwrap()).unwrap();
            assert!(std::fs::metadata(&out).unwrap().len() > 10_000);
            std::fs::remove_file(&out).unwrap();
        }
    }
}
