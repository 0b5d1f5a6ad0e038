/// Text of a row for reject reports when the original bytes are not at hand (XML records):
/// the record element rebuilt from the fields read, in the feed's namespace-free form.
public enum RowText {
    /// `<judgment case="…"><court code="…">…</court>…</judgment>` from the row's fields.
    public static func xml(_ row: Row, spec: FeedSpec, recordElement: String) -> String {
        final class Node {
            let name: String
            var attributes: [(String, String)] = []
            var text = ""
            var children: [Node] = []
            init(_ name: String) { self.name = name }
        }
        let root = Node(recordElement)
        for (i, field) in spec.fields.enumerated() where i < row.count {
            guard let path = field.path else { continue }
            let value = row.string(i)
            var node = root
            for segment in path.split(separator: "/") {
                if segment.hasPrefix("@") {
                    if !value.isEmpty { node.attributes.append((String(segment.dropFirst()), value)) }
                    break
                }
                if let existing = node.children.first(where: { $0.name == segment }) {
                    node = existing
                } else {
                    let created = Node(String(segment))
                    node.children.append(created)
                    node = created
                }
            }
            if !path.split(separator: "/").last!.hasPrefix("@") { node.text = value }
        }
        func escape(_ s: String) -> String {
            var out = ""
            for c in s {
                switch c {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&quot;"
                default: out.append(c)
                }
            }
            return out
        }
        func render(_ n: Node) -> String {
            let attrs = n.attributes.map { " \($0.0)=\"\(escape($0.1))\"" }.joined()
            return "<\(n.name)\(attrs)>" + escape(n.text) + n.children.map(render).joined() + "</\(n.name)>"
        }
        return render(root)
    }
}
