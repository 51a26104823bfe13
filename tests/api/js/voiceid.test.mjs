// SPDX-License-Identifier: Apache-2.0
//
// The AWS SDK for JavaScript v3 against the real server: domains, paging,
// tags, enrollment jobs on real audio, speakers, and how errors map onto
// the SDK's exception classes. Each test
// creates its own domains; tests that need exact listings or special
// flags start a server of their own.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync }
    from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
    ConflictException,
    CreateDomainCommand,
    DeleteDomainCommand,
    DescribeDomainCommand,
    DescribeSpeakerCommand,
    DescribeSpeakerEnrollmentJobCommand,
    ListDomainsCommand,
    ListWatchlistsCommand,
    ListTagsForResourceCommand,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    StartSpeakerEnrollmentJobCommand,
    TagResourceCommand,
    ThrottlingException,
    UntagResourceCommand,
    UpdateDomainCommand,
    ValidationException,
    VoiceIDServiceException,
    paginateListDomains,
    paginateListSpeakerEnrollmentJobs,
    paginateListSpeakers,
} from '@aws-sdk/client-voice-id';

import { BINARY, Server, startServer } from './server.mjs';

const ID22 = /^[a-zA-Z0-9]{22}$/;
const MANY = ['--max-domains', '1000'];

let server;
let client;
const extra = [];

before(async () => {
    server = await startServer();
    client = server.client();
});

after(async () => {
    for (const s of extra) await s.cleanup();
    if (server) await server.cleanup();
});

// A test that appends the log tails of the servers it used when it fails.
function it(name, fn) {
    test(name, async () => {
        const used = [server];
        try {
            await fn(used);
        } catch (e) {
            for (const s of used) {
                e.message += `\n--- timbre log ${s.logPath} ---\n`
                    + s.logTail();
            }
            throw e;
        }
    });
}

async function ownServer(used, flags = MANY) {
    const s = await new Server(flags).start();
    extra.push(s);
    used.push(s);
    return s;
}

const uniqueName = (p = 'js') => `${p}-${randomUUID().slice(0, 12)}`;

async function createDomain(c, input = {}) {
    const out = await c.send(new CreateDomainCommand({
        Name: uniqueName(),
        ServerSideEncryptionConfiguration: { KmsKeyId: 'js-key-1' },
        ...input,
    }));
    return out.Domain;
}

const describeDomain = (c, DomainId) =>
    c.send(new DescribeDomainCommand({ DomainId }));

const listTags = (c, ResourceArn) =>
    c.send(new ListTagsForResourceCommand({ ResourceArn }));

const domainIds = (summaries) => summaries.map((d) => d.DomainId);

// The error `promise` rejects with, failing if it resolves.
async function rejection(promise) {
    try {
        await promise;
    } catch (e) {
        return e;
    }
    assert.fail('expected the call to fail');
}

function assertIsA(err, cls) {
    assert.ok(err instanceof cls,
        `expected ${cls.name}, got ${err.name}: ${err.message}`);
}

it('CreateDomain returns the full domain', async () => {
    const name = uniqueName('full');

    const out = await client.send(new CreateDomainCommand({
        Name: name,
        Description: 'made by the JS SDK',
        ServerSideEncryptionConfiguration: { KmsKeyId: 'js-key-1' },
        Tags: [{ Key: 'team', Value: 'fraud' }],
    }));
    const d = out.Domain;

    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.match(out.$metadata.requestId, /^[0-9a-f-]{36}$/i);
    assert.match(d.DomainId, ID22);
    assert.equal(d.Arn,
        `arn:aws:voiceid:us-east-1:000000000000:domain/${d.DomainId}`);
    assert.equal(d.Name, name);
    assert.equal(d.Description, 'made by the JS SDK');
    assert.equal(d.DomainStatus, 'ACTIVE');
    assert.deepEqual(d.ServerSideEncryptionConfiguration,
        { KmsKeyId: 'js-key-1' });
    assert.match(d.WatchlistDetails.DefaultWatchlistId, ID22);
    assert.ok(d.CreatedAt instanceof Date);
    assert.ok(Math.abs(Date.now() - d.CreatedAt.getTime()) < 60000);
    assert.ok(d.UpdatedAt.getTime() >= d.CreatedAt.getTime());
    assert.equal(d.ServerSideEncryptionUpdateDetails, undefined);
});

it('DescribeDomain returns what CreateDomain did', async () => {
    const created = await createDomain(client, { Description: 'described' });

    const out = await describeDomain(client, created.DomainId);

    assert.deepEqual(out.Domain, created);
});

it('ListDomains pages in creation order; the paginator collects all',
    async (used) => {
        const own = await ownServer(used);
        const c = own.client();
        const created = [];
        for (let i = 0; i < 13; i++) {
            created.push((await createDomain(c)).DomainId);
        }

        const first = await c.send(new ListDomainsCommand({ MaxResults: 5 }));
        const byFours = [];
        for await (const page of paginateListDomains(
            { client: c, pageSize: 4 }, {})) {
            byFours.push(...domainIds(page.DomainSummaries));
        }
        const byDefault = [];
        for await (const page of paginateListDomains({ client: c }, {})) {
            byDefault.push(...domainIds(page.DomainSummaries));
        }

        assert.deepEqual(domainIds(first.DomainSummaries),
            created.slice(0, 5));
        assert.equal(typeof first.NextToken, 'string');
        assert.deepEqual(byFours, created);
        assert.deepEqual(byDefault, created);
    });

it('the ListSpeakerEnrollmentJobs paginator walks every job, newest first',
    async () => {
        const d = await createDomain(client);
        const seed = join(BINARY, '..', 'bench', 'seed-jobs');
        execFileSync(seed, ['--data-dir', join(server.dir, 'data'),
            '--domain', d.DomainId, '--count', '120']);

        const names = [];
        for await (const page of paginateListSpeakerEnrollmentJobs(
            { client, pageSize: 50 }, { DomainId: d.DomainId })) {
            names.push(...page.JobSummaries.map((j) => j.JobName));
        }

        assert.equal(names.length, 120);
        assert.equal(names[0], 'seed-119');
        assert.equal(names[119], 'seed-0');
        assert.equal(new Set(names).size, 120);
    });

it('each JobStatus filter lists that status only', async (used) => {
    // No workers, so that the seeded SUBMITTED and IN_PROGRESS jobs stay so.
    const s = await ownServer(used, [...MANY, '--workers', '0']);
    const c = s.client();
    const d = await createDomain(c);
    const seed = join(BINARY, '..', 'bench', 'seed-jobs');
    const statuses = ['SUBMITTED', 'IN_PROGRESS', 'COMPLETED',
        'COMPLETED_WITH_ERRORS', 'FAILED'];
    for (const status of statuses) {
        execFileSync(seed, ['--data-dir', join(s.dir, 'data'),
            '--domain', d.DomainId, '--count', '3', '--status', status]);
    }

    for (const status of statuses) {
        const got = [];
        for await (const page of paginateListSpeakerEnrollmentJobs(
            { client: c, pageSize: 2 },
            { DomainId: d.DomainId, JobStatus: status })) {
            got.push(...page.JobSummaries.map((j) => j.JobStatus));
        }
        assert.deepEqual(got, [status, status, status]);
    }
});

const ROLE = 'arn:aws:iam::000000000000:role/voiceid';
const CORPUS = join(BINARY, '..', 'corpus', 'eval');

// Puts four enrollment recordings of each corpus speaker, and a manifest
// with one request per speaker, into the server's "js-calls" bucket.
function putEnrollmentBatch(s, prefix, speakers) {
    const bucket = join(s.dir, 'data', 'objects', 'js-calls');
    mkdirSync(join(bucket, prefix), { recursive: true });
    const requests = speakers.map((speaker, i) => ({
        RequestId: `req-${i}`,
        SpeakerId: `js-caller-${i}`,
        AudioSpecifications: [1, 2, 3, 4].map((n) => {
            const file = `${speaker}-enroll0${n}.wav`;
            copyFileSync(join(CORPUS, speaker, file),
                join(bucket, prefix, file));
            return { S3Uri: `s3://js-calls/${prefix}/${file}`,
                ChannelId: 0 };
        }),
    }));
    writeFileSync(join(bucket, prefix, 'manifest.json'), JSON.stringify(
        { Version: '1.0', SpeakerEnrollmentRequests: requests }));
    return `s3://js-calls/${prefix}/manifest.json`;
}

function startJob(c, domainId, inputUri, extraInput = {}) {
    return c.send(new StartSpeakerEnrollmentJobCommand({
        DomainId: domainId,
        DataAccessRoleArn: ROLE,
        InputDataConfig: { S3Uri: inputUri },
        OutputDataConfig: { S3Uri: 's3://js-calls/output' },
        ...extraInput,
    }));
}

async function waitForEnd(c, domainId, jobId) {
    for (let i = 0; i < 600; i++) {
        const { Job } = await c.send(new DescribeSpeakerEnrollmentJobCommand(
            { DomainId: domainId, JobId: jobId }));
        if (!['SUBMITTED', 'IN_PROGRESS'].includes(Job.JobStatus)) {
            return Job;
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`job ${jobId} did not end`);
}

it('an enrollment job enrolls real callers, seen by every paginator',
    async (used) => {
        const s = await ownServer(used, [...MANY, '--workers', '1']);
        const c = s.client();
        const d = await createDomain(c);
        const uri = putEnrollmentBatch(s, d.DomainId, ['ev0011', 'ev0012']);

        const started = await startJob(c, d.DomainId, uri,
            { JobName: 'js-batch' });
        assert.match(started.Job.JobId, ID22);
        assert.ok(started.Job.CreatedAt instanceof Date);
        assert.equal(started.Job.EnrollmentConfig.ExistingEnrollmentAction,
            'SKIP');
        const job = await waitForEnd(c, d.DomainId, started.Job.JobId);

        assert.equal(job.JobStatus, 'COMPLETED');
        assert.deepEqual(job.JobProgress, { PercentComplete: 100 });
        assert.ok(job.EndedAt instanceof Date);
        const out = JSON.parse(readFileSync(join(s.dir, 'data', 'objects',
            'js-calls', 'output', job.JobId, 'manifest.json.out')));
        assert.deepEqual(out.Errors, []);
        assert.deepEqual(out.SuccessfulEnrollments.map(
            (e) => [e.RequestId, e.CustomerSpeakerId, e.EnrollmentStatus]),
        [['req-0', 'js-caller-0', 'NEW_ENROLLMENT'],
            ['req-1', 'js-caller-1', 'NEW_ENROLLMENT']]);

        const speakers = [];
        for await (const page of paginateListSpeakers(
            { client: c, pageSize: 1 }, { DomainId: d.DomainId })) {
            speakers.push(...page.SpeakerSummaries);
        }
        assert.deepEqual(speakers.map((x) => x.CustomerSpeakerId),
            ['js-caller-0', 'js-caller-1']);
        const { Speaker } = await c.send(new DescribeSpeakerCommand({
            DomainId: d.DomainId,
            SpeakerId: out.SuccessfulEnrollments[1].GeneratedSpeakerId }));
        assert.equal(Speaker.CustomerSpeakerId, 'js-caller-1');
        assert.equal(Speaker.Status, 'ENROLLED');

        const jobs = [];
        for await (const page of paginateListSpeakerEnrollmentJobs(
            { client: c }, { DomainId: d.DomainId,
                JobStatus: 'COMPLETED' })) {
            jobs.push(...page.JobSummaries);
        }
        assert.deepEqual(jobs.map((j) => j.JobName), ['js-batch']);
    });

it('StartSpeakerEnrollmentJob errors map to the SDK\'s classes',
    async (used) => {
        const s = await ownServer(used, [...MANY, '--workers', '0']);
        const c = s.client();
        const d = await createDomain(c);
        const uri = 's3://js-calls/none.json';

        await startJob(c, d.DomainId, uri);
        const quota = await rejection(startJob(c, d.DomainId, uri));
        assertIsA(quota, ServiceQuotaExceededException);
        const bad = await rejection(startJob(c, d.DomainId,
            'https://js-calls/none.json'));
        assertIsA(bad, ValidationException);
        assert.match(bad.message, /InputDataConfig\.S3Uri/);
        const missing = await rejection(startJob(c, 'Z'.repeat(22), uri));
        assertIsA(missing, ResourceNotFoundException);
        assert.equal(missing.ResourceType, 'DOMAIN');
    });

it('UpdateDomain replaces every attribute', async () => {
    const d = await createDomain(client, { Description: 'to be dropped' });
    const name = uniqueName('renamed');

    const out = await client.send(new UpdateDomainCommand({
        DomainId: d.DomainId,
        Name: name,
        ServerSideEncryptionConfiguration: { KmsKeyId: 'js-key-2' },
    }));
    const u = out.Domain;

    assert.equal(u.Name, name);
    assert.equal(u.Description, undefined);
    assert.deepEqual(u.ServerSideEncryptionConfiguration,
        { KmsKeyId: 'js-key-2' });
    assert.deepEqual(u.ServerSideEncryptionUpdateDetails,
        { OldKmsKeyId: 'js-key-1', UpdateStatus: 'COMPLETED' });
    assert.equal(u.CreatedAt.getTime(), d.CreatedAt.getTime());
    assert.ok(u.UpdatedAt.getTime() >= d.UpdatedAt.getTime());
    assert.deepEqual((await describeDomain(client, d.DomainId)).Domain, u);
});

it('DeleteDomain hides the domain from every operation', async () => {
    const d = await createDomain(client);

    const out = await client.send(
        new DeleteDomainCommand({ DomainId: d.DomainId }));
    const e = await rejection(describeDomain(client, d.DomainId));

    assert.equal(out.$metadata.httpStatusCode, 200);
    assertIsA(e, ResourceNotFoundException);
    assert.equal(e.name, 'ResourceNotFoundException');
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.equal(e.ResourceType, 'DOMAIN');
    assert.ok(e.message.length > 0);
    assertIsA(await rejection(listTags(client, d.Arn)),
        ResourceNotFoundException);
    assertIsA(await rejection(client.send(
        new DeleteDomainCommand({ DomainId: d.DomainId }))),
    ResourceNotFoundException);
});

it('tags are added, replaced, removed and listed sorted by key', async () => {
    const d = await createDomain(client,
        { Tags: [{ Key: 'team', Value: 'fraud' }] });

    await client.send(new TagResourceCommand({
        ResourceArn: d.Arn,
        Tags: [
            { Key: 'b', Value: '2' },
            { Key: 'a', Value: '1' },
            { Key: 'team', Value: 'risk' },
        ],
    }));
    const afterTag = await listTags(client, d.Arn);
    await client.send(new UntagResourceCommand(
        { ResourceArn: d.Arn, TagKeys: ['b', 'absent'] }));
    const afterUntag = await listTags(client, d.Arn);

    assert.deepEqual(afterTag.Tags, [
        { Key: 'a', Value: '1' },
        { Key: 'b', Value: '2' },
        { Key: 'team', Value: 'risk' },
    ]);
    assert.deepEqual(afterUntag.Tags, [
        { Key: 'a', Value: '1' },
        { Key: 'team', Value: 'risk' },
    ]);
});

it('an invalid DomainId is a ValidationException naming it', async () => {
    const e = await rejection(describeDomain(client, 'abcdefghijklmnopqrstu!'));

    assertIsA(e, ValidationException);
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.match(e.message, /'DomainId'/);
});

it('an unknown domain is a ResourceNotFoundException of type DOMAIN',
    async () => {
        const e = await rejection(describeDomain(client, 'A'.repeat(22)));

        assertIsA(e, ResourceNotFoundException);
        assert.equal(e.$metadata.httpStatusCode, 400);
        assert.equal(e.ResourceType, 'DOMAIN');
    });

it('a reused ClientToken gives the same domain or a ConflictException',
    async () => {
        const token = uniqueName('tok');
        const name = uniqueName('idem');
        const input = { Name: name, ClientToken: token };

        const a = await createDomain(client, input);
        const b = await createDomain(client, input);
        const e = await rejection(createDomain(client,
            { Name: uniqueName(), ClientToken: token }));

        assert.equal(b.DomainId, a.DomainId);
        assertIsA(e, ConflictException);
        assert.equal(e.$metadata.httpStatusCode, 400);
    });

it('the domain quota is a ServiceQuotaExceededException', async (used) => {
    const own = await ownServer(used, ['--max-domains', '1']);
    const c = own.client();
    await createDomain(c);

    const e = await rejection(createDomain(c));

    assertIsA(e, ServiceQuotaExceededException);
    assert.equal(e.$metadata.httpStatusCode, 400);
});

it('a burst over the rate limit is a ThrottlingException', async (used) => {
    const own = await ownServer(used,
        ['--rate-limit', '1', '--rate-burst', '1']);
    const c = own.client();
    await c.send(new ListDomainsCommand({}));

    const e = await rejection(c.send(new ListDomainsCommand({})));

    assertIsA(e, ThrottlingException);
    assert.equal(e.$metadata.httpStatusCode, 400);
});

it('an operation not built yet answers 501 naming itself', async () => {
    const d = await createDomain(client);

    const e = await rejection(client.send(
        new ListWatchlistsCommand({ DomainId: d.DomainId })));

    assertIsA(e, VoiceIDServiceException);
    assert.equal(e.name, 'NotImplementedException');
    assert.equal(e.$metadata.httpStatusCode, 501);
    assert.equal(e.message,
        'ListWatchlists is not available in this version of Timbre');
});

it('an unknown access key is an UnrecognizedClientException', async () => {
    const stranger = server.client({
        accessKeyId: 'AKIANOBODY0000000000', secretAccessKey: 'x',
    });

    const e = await rejection(stranger.send(new ListDomainsCommand({})));

    assert.equal(e.name, 'UnrecognizedClientException');
    assert.equal(e.$metadata.httpStatusCode, 403);
});

it('an unsigned request is a MissingAuthenticationTokenException',
    async () => {
        const unsigned = server.client();
        // Runs after signing, just before the request is sent.
        unsigned.middlewareStack.add((next) => async (args) => {
            delete args.request.headers.authorization;
            return next(args);
        }, { step: 'deserialize', name: 'dropAuthorization' });

        const e = await rejection(unsigned.send(new ListDomainsCommand({})));

        assert.equal(e.name, 'MissingAuthenticationTokenException');
        assert.equal(e.$metadata.httpStatusCode, 403);
    });

it('a wrong secret is an InvalidSignatureException', async () => {
    const bad = server.client({ secretAccessKey: 'wrong' });

    const e = await rejection(bad.send(new ListDomainsCommand({})));

    assert.equal(e.name, 'InvalidSignatureException');
    assert.equal(e.$metadata.httpStatusCode, 403);
});
