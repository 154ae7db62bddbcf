// Indents JSON text without re-encoding it: keys keep lainlet's order and numbers keep Go's
// spelling (`1e+06`), which a JSON.parse/stringify round trip would change.

export function indentJson(text: string, indent = '  '): string {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  const newline = () => out.push('\n', indent.repeat(depth));
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out.push(c);
      if (c === '\\') out.push(text[++i] ?? '');
      else if (c === '"') inString = false;
      continue;
    }
    switch (c) {
      case '"':
        inString = true;
        out.push(c);
        break;
      case '{':
      case '[': {
        let j = i + 1;
        while (j < text.length && /\s/.test(text[j])) j++;
        if (text[j] === (c === '{' ? '}' : ']')) {
          out.push(c, text[j]);
          i = j;
          break;
        }
        out.push(c);
        depth++;
        newline();
        break;
      }
      case '}':
      case ']':
        depth--;
        newline();
        out.push(c);
        break;
      case ',':
        out.push(c);
        newline();
        break;
      case ':':
        out.push(': ');
        break;
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        break;
      default:
        out.push(c);
    }
  }
  return out.join('');
}
