import ArgumentParser
import TallyCLI
import TallyCore
import TallyIO

/// `tally-bench metro-data`: a wide metro-operator export (bench/metro/metro.feed.json), the
/// second CSV shape bench/parse.sh times: 12 columns, about 150 bytes a row, quoted Chinese
/// station and operator names, ISO timestamps with offsets. Synthetic and deterministic.
struct MetroData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metro-data",
        abstract: "Write a wide metro export (gzip) for timing tally-parse and tally-validate on a second CSV shape.",
        discussion: "One row in a hundred is flagged (fare-evasion or no-exit) and becomes a record; the rest are validated and filtered. Card numbers are synthetic (region-free, 8 then 15 digits).")

    @Option(help: "How many rows.")
    var rows: Int = 2_000_000

    @Option(help: "The seed.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Where to write (gzip, level 6).", valueName: "file"))
    var out: String

    static let stations = ["人民广场", "陆家嘴", "徐家汇", "静安寺", "南京东路", "世纪大道", "虹桥火车站", "浦东国际机场", "龙阳路", "中山公园",
                           "上海火车站", "东方体育中心", "张江高科", "五角场", "莘庄", "外环路", "漕河泾开发区", "金沙江路", "曹杨路", "宜山路"]
    static let operators = ["上海申通地铁集团", "上海轨道交通运营有限公司", "浦东新区公共交通"]

    func validate() throws {
        guard (1...9_999_999).contains(rows) else { throw ValidationError("--rows must be from 1 to 9,999,999 (the trip ids have seven digits)") }
    }

    func run() throws {
        try Stage.run("tally-bench") {
            let sink = try OutputSink.create(out, gzip: true)
            let b = sink.buffer
            b.append("trip_id,card_id,line,entry_station,exit_station,entry_time,exit_time,distance_m,fare_yuan,paid_yuan,operator,status\n")
            var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
            func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
            let day = CivilDate(year: 2026, month: 11, day: 1)!
            for i in 0..<rows {
                let r = next()
                let entry = 5 * 3600 + Int(r % (18 * 3600))
                let ride = 300 + Int((r >> 20) % 4800)
                let distance = 800 + Int((r >> 34) % 30_000)
                let fare = 300 + (distance / 1000) * 50
                let flag = (r >> 50) % 100
                b.append("T"); b.appendPadded(20261101, width: 8); b.appendPadded(i, width: 7)
                b.append(","); b.append("8"); b.appendPadded(Int((UInt64(i) &* 387_420_489) % 1_000_000_000_000_000), width: 15)
                b.append(",L"); b.appendPadded(1 + Int((r >> 8) % 18), width: 2)
                b.append(",\""); b.append(Self.stations[Int((r >> 12) % 20)]); b.append("\",\""); b.append(Self.stations[Int((r >> 16) % 20)]); b.append("\",")
                time(b, day, entry); b.append(",")
                if flag == 1 { b.append(",") } else { time(b, day, entry + ride); b.append(",") }
                b.appendDecimal(Int64(distance)); b.append(",")
                b.appendYuan(fen: Int64(fare)); b.append(",")
                b.appendYuan(fen: Int64(flag == 0 ? fare / 2 : fare)); b.append(",\"")
                b.append(Self.operators[Int((r >> 40) % 3)]); b.append("\",")
                b.append(flag == 0 ? "fare-evasion" : (flag == 1 ? "no-exit" : "ok")); b.append("\n")
                try sink.flushIfFull()
            }
            try sink.finish()
            return ExitStatus.ok
        }
    }

    /// `2026-11-01T08:12:33+08:00`, `seconds` after the day's midnight in China.
    func time(_ b: ByteBuffer, _ day: CivilDate, _ seconds: Int) {
        b.appendDate(day); b.append("T")
        b.appendPadded(seconds / 3600 % 24, width: 2); b.append(":"); b.appendPadded(seconds / 60 % 60, width: 2); b.append(":")
        b.appendPadded(seconds % 60, width: 2); b.append("+08:00")
    }
}
