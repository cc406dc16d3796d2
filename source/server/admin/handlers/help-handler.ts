import { type AdminEndpoint, HTML } from '../admin-endpoint.js'

/** The `/help` text: one line per path, then its parameters. */
export function helpText(endpoints: readonly AdminEndpoint[]): string {
  const lines = ['admin commands are:']
  for (const e of [...endpoints].sort((a, b) => a.path.localeCompare(b.path))) {
    lines.push(`  ${e.path}: ${e.help}${e.mutatesState ? ' (POST)' : ''}`)
    for (const p of e.params ?? []) lines.push(`      ${p.name}: ${p.help}`)
  }
  return `${lines.join('\n')}\n`
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** The home page: a link for each GET path and a form for each POST one. */
export function homePage(endpoints: readonly AdminEndpoint[]): string {
  const rows = [...endpoints].sort((a, b) => a.path.localeCompare(b.path)).map((e) => {
    const params = (e.params ?? []).map((p) => `<div><code>${escapeHtml(p.name)}</code>: ${escapeHtml(p.help)}</div>`).join('')
    const action = e.mutatesState
      ? `<form action="${escapeHtml(e.path)}" method="post"><button type="submit">${escapeHtml(e.path)}</button></form>`
      : `<a href="${escapeHtml(e.path)}">${escapeHtml(e.path)}</a>`
    return `<tr><td>${action}</td><td>${escapeHtml(e.help)}${params}</td></tr>`
  })
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>envoy-ts admin</title>
<style>body{font-family:sans-serif}td{padding:4px 12px;vertical-align:top}form{margin:0}</style></head>
<body><h1>envoy-ts admin</h1><table>
${rows.join('\n')}
</table></body></html>
`
}

export function helpEndpoints(all: () => readonly AdminEndpoint[]): AdminEndpoint[] {
  return [
    { path: '/', help: 'Admin home page', mutatesState: false, handler: () => ({ status: 200, contentType: HTML, body: homePage(all()) }) },
    { path: '/help', help: 'Print out list of admin commands', mutatesState: false, handler: () => ({ status: 200, body: helpText(all()) }) },
  ]
}
