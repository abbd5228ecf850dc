import type { Phone } from '../../src/home/schema.js';
import type { RenderContext, SharedRenderContext, VendorModule } from '../../src/vendors/types.js';

/**
 * A deterministic RenderContext for vendor tests (hardware and softphones):
 * fixed PEMs, secret, MAC and addresses, so rendered files can be compared
 * with golden files byte for byte.
 *
 * The PEMs are a throw-away P-256 CA and phone certificate made once with
 * openssl for these tests only; the key protects nothing.
 * Keep the exports stable: several vendor test files use them.
 */

export const FIXTURE_CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB8DCCAZagAwIBAgIFUbXsAAEwCgYIKoZIzj0EAwIwTDEZMBcGA1UECgwQTXkg\nU3VwZXIgQ29tcGFueTEvMC0GA1UEAwwmTXkgU3VwZXIgQ29tcGFueSBTSVAgQ0Eg\nKHRlc3QgZml4dHVyZSkwIBcNMjYxMTI2MTcxNTMxWhgPMjA2NTAzMjYxNzE1MzFa\nMEwxGTAXBgNVBAoMEE15IFN1cGVyIENvbXBhbnkxLzAtBgNVBAMMJk15IFN1cGVy\nIENvbXBhbnkgU0lQIENBICh0ZXN0IGZpeHR1cmUpMFkwEwYHKoZIzj0CAQYIKoZI\nzj0DAQcDQgAEnhezgd8G+XKRQjCVzgUIFiMwU0ZLntKJkWfL1ayX2idWkszSM8tV\nA969ltNNZKtFIdjkLKSoQVCTjLNe0E8jkKNjMGEwHQYDVR0OBBYEFNvHex3Eyg1m\nBzOmJ51wb8H2GZ2iMB8GA1UdIwQYMBaAFNvHex3Eyg1mBzOmJ51wb8H2GZ2iMA8G\nA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49BAMCA0gAMEUC\nIQCKL/jFce+HSiXo6PpHlNEPNPOhjyAwFSDPcS7uBW4+DwIgNqPttdsiuy7fW3DA\nci7wHHChL1km+L0TRh/dK4s4FkA=\n-----END CERTIFICATE-----\n";

export const FIXTURE_CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIICKDCCAc6gAwIBAgIFUbXsAAIwCgYIKoZIzj0EAwIwTDEZMBcGA1UECgwQTXkg\nU3VwZXIgQ29tcGFueTEvMC0GA1UEAwwmTXkgU3VwZXIgQ29tcGFueSBTSVAgQ0Eg\nKHRlc3QgZml4dHVyZSkwIBcNMjYxMTI2MTcxNTMxWhgPMjA2MjA2MzAxNzE1MzFa\nMC8xGTAXBgNVBAoMEE15IFN1cGVyIENvbXBhbnkxEjAQBgNVBAMMCXRlbGVmb25v\nMTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABG5NaXNHqD6zkvbxRE20ShPjSGeo\nOEm8pYnJ2nrrLMPBwIalCmWN3JspUYbY+OFMct7RaQXfmqTiIGygHq+i4NCjgbcw\ngbQwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCA4gwHQYDVR0lBBYwFAYIKwYB\nBQUHAwIGCCsGAQUFBwMBMDUGA1UdEQQuMCyCCXRlbGVmb25vMYcECgABhIYZc2lw\nOjEwMUBwYngubXljb21wYW55LmNvbTAdBgNVHQ4EFgQUxwennOmLyjr+iiLYrLKC\n1rtBZEIwHwYDVR0jBBgwFoAU28d7HcTKDWYHM6YnnXBvwfYZnaIwCgYIKoZIzj0E\nAwIDSAAwRQIgXod55TcY4txXJoEDipb2iwWPeavyXUPXA7Iyfb+Up3gCIQD5p3Mg\nccOzHATY2cbkeGDTWC5YxS4fK5Hp7HtTlIyRAw==\n-----END CERTIFICATE-----\n";

/** PKCS#8, as RenderContext.pem.key. */
export const FIXTURE_KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpBJ4GLaXPR7dlSfI\nPNKhpk5hF4XQ91qNzs2q2JZUZ3ShRANCAARuTWlzR6g+s5L28URNtEoT40hnqDhJ\nvKWJydp66yzDwcCGpQpljdybKVGG2PjhTHLe0WkF35qk4iBsoB6vouDQ\n-----END PRIVATE KEY-----\n";

/** The same key in SEC1 form, as RenderContext.pem.keyLegacy. */
export const FIXTURE_KEY_LEGACY_PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKQSeBi2lz0e3ZUnyDzSoaZOYReF0Pdajc7NqtiWVGd0oAoGCCqGSM49\nAwEHoUQDQgAEbk1pc0eoPrOS9vFETbRKE+NIZ6g4Sbylicnaeussw8HAhqUKZY3c\nmylRhtj44Uxy3tFpBd+apOIgbKAer6Lg0A==\n-----END EC PRIVATE KEY-----\n";

/** Stands in for a PKCS#12: real ones carry random salts, so no golden file could hold one. */
export const FIXTURE_P12 = Buffer.from('sipsec test fixture: not a real PKCS#12 file\n', 'utf8');

export const FIXTURE_ADDRESSES = {
  domain: 'pbx.mycompany.com',
  org: 'My Super Company',
  registrar: { host: 'pbx.mycompany.com', port: 5061 },
  provisioningUrl: 'https://pbx.mycompany.com/provision/',
  tftpServer: '10.0.1.133',
  ntp: '10.0.1.1',
} as const;

export const FIXTURE_PHONE: Phone = {
  name: 'telefono1',
  vendor: 'aastra',
  mac: '00085d123456',
  ips: ['10.0.1.132'],
  dns: [],
  ext: '101',
  secret: 'Fx7kQ2mZp9RtW4vYc8Hn3s',
  displayName: 'Telefono Uno',
  srtp: 'mandatory',
  line: 1,
  options: {},
  createdAt: '2011-10-05T00:00:00.000Z',
};

export interface FixtureOverrides extends Partial<Omit<RenderContext, 'phone' | 'pem'>> {
  phone?: Partial<Phone>;
  pem?: Partial<RenderContext['pem']>;
}

/** The fixture context with some fields replaced (phone fields are merged, not replaced). */
export function fixtureContext(overrides: FixtureOverrides = {}): RenderContext {
  const { phone: phoneOverrides, pem: pemOverrides, ...rest } = overrides;
  const phone: Phone = { ...FIXTURE_PHONE, ...phoneOverrides };
  return {
    phone,
    options: phone.options,
    sipUser: phone.ext ?? phone.name,
    domain: FIXTURE_ADDRESSES.domain,
    org: FIXTURE_ADDRESSES.org,
    registrar: { ...FIXTURE_ADDRESSES.registrar },
    provisioningUrl: FIXTURE_ADDRESSES.provisioningUrl,
    tftpServer: FIXTURE_ADDRESSES.tftpServer,
    ntp: FIXTURE_ADDRESSES.ntp,
    pem: {
      cert: FIXTURE_CERT_PEM,
      key: FIXTURE_KEY_PEM,
      keyLegacy: FIXTURE_KEY_LEGACY_PEM,
      ca: FIXTURE_CA_PEM,
      p12: () => FIXTURE_P12,
      ...pemOverrides,
    },
    localDir: undefined,
    ...rest,
  };
}

/**
 * The fixture context for one vendor module: the phone's vendor set to its
 * id and its options run through the module's schema, as phoneContext() does.
 */
export function fixtureContextFor(vendor: VendorModule, overrides: FixtureOverrides = {}): RenderContext {
  const phone: Partial<Phone> = { vendor: vendor.descriptor.id, ...overrides.phone };
  const options = vendor.optionsSchema.parse(phone.options ?? {});
  return fixtureContext({ ...overrides, phone, options: overrides.options ?? options });
}

/** The SharedRenderContext matching fixtureContext(), for renderShared(). */
export function fixtureShared(overrides: Partial<SharedRenderContext> = {}): SharedRenderContext {
  return {
    domain: FIXTURE_ADDRESSES.domain,
    org: FIXTURE_ADDRESSES.org,
    registrar: { ...FIXTURE_ADDRESSES.registrar },
    provisioningUrl: FIXTURE_ADDRESSES.provisioningUrl,
    tftpServer: FIXTURE_ADDRESSES.tftpServer,
    ntp: FIXTURE_ADDRESSES.ntp,
    caPem: FIXTURE_CA_PEM,
    phones: [FIXTURE_PHONE],
    ...overrides,
  };
}
