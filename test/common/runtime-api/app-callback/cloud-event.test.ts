import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isExpired, toDeliveredEvent, topicEventFields, toProtoStruct } from '../../../../source/common/runtime-api/app-callback/cloud-event.js'
import type { PubSubMessage } from '../../../../source/envoy/runtime-api/components.js'

const enc = new TextEncoder()
const msg = (data: Uint8Array, metadata: Record<string, string> = {}): PubSubMessage =>
  ({ id: 'm1', topic: 't', pubsubName: 'ps', data, contentType: 'application/cloudevents+json', metadata })

describe('cloud events for delivery', () => {
  it('uses a published CloudEvent as is', () => {
    const bytes = enc.encode(JSON.stringify({ id: 'e', specversion: '1.0', data: { a: 1 } }))
    const d = toDeliveredEvent(msg(bytes))
    assert.equal(d.body, bytes)
    assert.equal(d.event['id'], 'e')
  })

  it('wraps raw payloads and non-objects like Dapr raw payloads', () => {
    for (const [data, md] of [[enc.encode('{"a":1}'), { rawPayload: 'true' }], [enc.encode('not json'), {}], [enc.encode('[1,2]'), {}]] as const) {
      const d = toDeliveredEvent(msg(data, md))
      assert.equal(d.event['id'], 'm1')
      assert.equal(d.event['datacontenttype'], 'application/octet-stream')
      assert.equal(Buffer.from(d.event['data_base64'] as string, 'base64').toString(), new TextDecoder().decode(data))
      assert.deepEqual(JSON.parse(new TextDecoder().decode(d.body)), d.event)
    }
  })

  it('flattens fields for TopicEventRequest as Dapr does', () => {
    const base = { id: 'i', source: 's', type: 'ty', specversion: '1.0', topic: 't', traceid: 'tr' }
    const json = topicEventFields({ ...base, datacontenttype: 'application/json', data: { a: [1, 'x'] } })
    assert.equal(new TextDecoder().decode(json.data), '{"a":[1,"x"]}')
    assert.deepEqual(json.extensions, { topic: 't', traceid: 'tr' })
    assert.equal(json.spec_version, '1.0')
    const text = topicEventFields({ ...base, datacontenttype: 'text/plain; charset=utf-8', data: 'hi' })
    assert.equal(new TextDecoder().decode(text.data), 'hi')
    const jsonString = topicEventFields({ ...base, datacontenttype: 'application/json', data: 'hi' })
    assert.equal(new TextDecoder().decode(jsonString.data), '"hi"')
    const b64 = topicEventFields({ ...base, datacontenttype: 'application/octet-stream', data_base64: Buffer.from([1, 2, 3]).toString('base64') })
    assert.deepEqual([...b64.data], [1, 2, 3])
    assert.throws(() => topicEventFields({ data_base64: 5 }))
    assert.equal(topicEventFields({}).data.byteLength, 0)
  })

  it('expiration', () => {
    assert.equal(isExpired({ expiration: new Date(Date.now() - 1).toISOString() }), true)
    assert.equal(isExpired({ expiration: new Date(Date.now() + 60_000).toISOString() }), false)
    assert.equal(isExpired({}), false)
    assert.equal(isExpired({ expiration: 'garbage' }), false)
  })

  it('Struct conversion', () => {
    assert.deepEqual(toProtoStruct({ s: 'x', n: 1, b: true, z: null, l: [1], o: { k: 'v' } }), {
      fields: {
        s: { stringValue: 'x' }, n: { numberValue: 1 }, b: { boolValue: true }, z: { nullValue: 0 },
        l: { listValue: { values: [{ numberValue: 1 }] } }, o: { structValue: { fields: { k: { stringValue: 'v' } } } },
      },
    })
  })
})
