import ConsentStores

/// The subjects a consent platform's webhook body names, found at the entry's `subject_pointers`.
///
/// Each pointer may name a string (one subject) or an array of strings (several); a pointer that names
/// nothing is skipped, since one platform's event types differ in shape (Didomi's `user.updated` holds
/// the user where `event.created` holds an event). Anything else at a pointer, or an empty string, is
/// ignored, and each subject counts once. Pure: no I/O.
struct WebhookSubjects: Sendable {
    let pointers: [JSONPointer]

    /// The distinct subjects in `body`, in pointer order.
    func subjects(in body: JSONValue) -> [String] {
        var seen: Set<String> = []
        var result: [String] = []
        func add(_ value: JSONValue) {
            guard case .string(let subject) = value, !subject.isEmpty, seen.insert(subject).inserted else { return }
            result.append(subject)
        }
        for pointer in pointers {
            switch pointer.resolve(in: body) {
            case .array(let items)?: items.forEach(add)
            case let value?: add(value)
            case nil: continue
            }
        }
        return result
    }
}
