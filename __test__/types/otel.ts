// streamdelta/otel: the types users write against.
import { instrument } from 'streamdelta/otel'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import { MeterProvider } from '@opentelemetry/sdk-metrics'

const stop: () => void = instrument({ tracerProvider: new BasicTracerProvider(), meterProvider: new MeterProvider() })
stop()
instrument()
