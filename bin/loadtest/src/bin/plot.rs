//! `coinjecture-bench-plot RESULTS.json OUT.png [--font FILE.ttf]`: draws a `bench/run.sh` result
//! file as two panels, offered vs. sustained final TPS (with the ideal y = x) and offered vs.
//! submit→final latency p50/p99. The font is read at run time (the plot needs one for its labels);
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

fn points(doc: &serde_json::Value) -> eyre::Result<Vec<Point>> {
    let runs = doc["runs"].as_array().ok_or_else(|| eyre!("no \"runs\" array"))?;
    runs.iter()
        .map(|r| {
            let offered = r["offered_tps"].as_f64().ok_or_else(|| eyre!("run without offered_tps"))?;
            let sustained = r["sustained_final_tps"].as_f64().unwrap_or(0.0);
            Ok((offered, sustained, r["latency"]["p50"].as_f64(), r["latency"]["p99"].as_f64()))
        })
        .collect()
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
    let points = points(&doc)?;
    if points.is_empty() {
        bail!("{input}: no runs");
    }
    draw(&points, &output).map_err(|e| eyre!("drawing {output}: {e}"))?;
    println!("wrote {output}");
    Ok(())
}

fn draw(points: &[Point], output: &str) -> Result<(), Box<dyn std::error::Error>> {
    let max_offered = points.iter().map(|p| p.0).fold(1.0, f64::max) * 1.5;
    let min_offered = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min).max(1.0) / 1.5;
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
    let final_points: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1.max(min_offered))).collect();
    tps.draw_series(LineSeries::new(final_points.clone(), BLUE.stroke_width(2)))?
        .label("sustained final")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    tps.draw_series(final_points.iter().map(|&p| Circle::new(p, 4, BLUE.filled())))?;
    tps.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;

    let max_latency = points.iter().filter_map(|p| p.3.or(p.2)).fold(1.0, f64::max) * 1.2;
    let mut latency = ChartBuilder::on(&panels[1])
        .caption("submit → final latency", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d((min_offered..max_offered).log_scale(), 0.0..max_latency)?;
    latency.configure_mesh().x_desc("offered tx/s").y_desc("seconds").draw()?;
    for (name, color, pick) in [("p50", GREEN, 0usize), ("p99", RED, 1)]
        .map(|(n, c, i)| (n, c, move |p: &Point| if i == 0 { p.2 } else { p.3 }))
    {
        let series: Vec<(f64, f64)> = points.iter().filter_map(|p| Some((p.0, pick(p)?))).collect();
        latency
            .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        latency.draw_series(series.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    latency.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
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
        assert_eq!(points(&doc).unwrap(), vec![(100.0, 99.5, Some(1.0), Some(2.0)), (1000.0, 990.0, None, None)]);
        assert!(points(&serde_json::json!({})).is_err());
    }
}
